package escalation_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	"sigs.k8s.io/yaml"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The OpenAPI document (api/escalation/openapi.yaml) against the real handler: every call's
// success and problem answers are validated with libopenapi-validator, so that a field, a
// status or a problem type the handler answers and the document lacks fails here.

// contract is the document, built for validation.
type contract struct {
	v       validator.Validator
	schemas map[string]*base.Schema
	sv      schema_validation.SchemaValidator
}

// newContract builds a validator of a document; the document must itself be valid OpenAPI.
func newContract(g *WithT, doc []byte) *contract {
	d, err := libopenapi.NewDocument(doc)
	g.Expect(err).NotTo(HaveOccurred())
	v, errs := validator.NewValidator(d, config.WithFormatAssertions())
	g.Expect(errs).To(BeEmpty())
	ok, verrs := v.ValidateDocument()
	g.Expect(ok).To(BeTrue(), "the document is valid OpenAPI 3.1: %v", messages(verrs))
	m, err := d.BuildV3Model()
	g.Expect(err).NotTo(HaveOccurred())
	c := &contract{v: v, schemas: map[string]*base.Schema{}, sv: schema_validation.NewSchemaValidator(config.WithFormatAssertions())}
	for name, proxy := range m.Model.Components.Schemas.FromOldest() {
		c.schemas[name] = proxy.Schema()
	}
	return c
}

// exchange is one call and its answer, kept to validate again against a changed document.
type exchange struct {
	name         string
	method, url  string
	header       http.Header
	body         []byte
	validRequest bool
	status       int
	respHeader   http.Header
	respBody     []byte
}

func (e *exchange) request() *http.Request {
	req, _ := http.NewRequest(e.method, e.url, bytes.NewReader(e.body))
	req.Header = e.header.Clone()
	return req
}

func (e *exchange) response(req *http.Request) *http.Response {
	return &http.Response{StatusCode: e.status, Header: e.respHeader.Clone(), Body: io.NopCloser(bytes.NewReader(e.respBody)), Request: req}
}

// validate checks the exchange against the document: the answer always, the request too
// when it is one a bot following the document sends (a problem case sends one it must not).
func (c *contract) validate(e *exchange) []string {
	req := e.request()
	if e.validRequest {
		ok, errs := c.v.ValidateHttpRequestResponse(req, e.response(req))
		if !ok {
			return messages(errs)
		}
		return nil
	}
	if ok, errs := c.v.ValidateHttpResponse(req, e.response(req)); !ok {
		return messages(errs)
	}
	return nil
}

func messages[E interface{ Error() string }](errs []E) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// recorder sends calls to a runner and validates each exchange, keeping them.
type recorder struct {
	t         *testing.T
	g         *WithT
	c         *contract
	exchanges []*exchange
}

// send sends a request (body: nil, a string sent as is, or a value sent as JSON) with the
// token, and the headers hdr gives (name, value; an empty value removes the header).
func (rec *recorder) send(name string, r *runner, method, path string, body any, validRequest bool, hdr ...string) *exchange {
	g := rec.g
	e := &exchange{name: name, method: method, url: r.srv.URL + path, header: http.Header{}, validRequest: validRequest}
	switch b := body.(type) {
	case nil:
	case string:
		e.body = []byte(b)
	default:
		raw, err := json.Marshal(b)
		g.Expect(err).NotTo(HaveOccurred())
		e.body = raw
	}
	e.header.Set("Authorization", "Bearer "+token)
	if body != nil {
		e.header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			e.header.Del(hdr[i])
		} else {
			e.header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(e.request())
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	e.status, e.respHeader = resp.StatusCode, resp.Header
	e.respBody, err = io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return e
}

// call sends a request as send does, validates the exchange and keeps it.
func (rec *recorder) call(name string, r *runner, method, path string, body any, validRequest bool, hdr ...string) *exchange {
	e := rec.send(name, r, method, path, body, validRequest, hdr...)
	rec.g.Expect(rec.c.validate(e)).To(BeEmpty(), "%s: %d %s", name, e.status, e.respBody)
	rec.exchanges = append(rec.exchanges, e)
	return e
}

// problem calls and expects a problem of a type.
func (rec *recorder) problem(name string, r *runner, method, path string, body any, status int, typ string, hdr ...string) *exchange {
	e := rec.call(name, r, method, path, body, false, hdr...)
	rec.g.Expect(e.status).To(Equal(status), "%s: %s", name, e.respBody)
	rec.g.Expect(e.respHeader.Get("Content-Type")).To(Equal("application/problem+json"), name)
	var p api.Problem
	rec.g.Expect(json.Unmarshal(e.respBody, &p)).To(Succeed())
	rec.g.Expect(p.Type).To(Equal(typ), name)
	return e
}

func (e *exchange) json(g *WithT) map[string]any {
	var m map[string]any
	g.Expect(json.Unmarshal(e.respBody, &m)).To(Succeed(), string(e.respBody))
	return m
}

// stream opens an event stream, validates its status and content type against the
// document, and validates each event's data against schema until stop says so.
func (rec *recorder) stream(name string, r *runner, path, schema string, stop func(kind string, data map[string]any) bool, hdr ...string) int {
	g := rec.g
	ctx, cancel := context.WithTimeout(rec.t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	// The status and content type: the answer without its (endless) body.
	e := &exchange{name: name, method: http.MethodGet, url: req.URL.String(), header: req.Header.Clone(), validRequest: true,
		status: resp.StatusCode, respHeader: resp.Header}
	g.Expect(rec.c.validate(e)).To(BeEmpty(), "%s: %d", name, e.status)
	rec.exchanges = append(rec.exchanges, e)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), api.MaxBodyBytes*4)
	kind, n := "", 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			ok, errs := rec.c.sv.ValidateSchemaString(rec.c.schemas[schema], data)
			g.Expect(ok).To(BeTrue(), "%s: %s against %s: %v", name, data, schema, messages(errs))
			var m map[string]any
			g.Expect(json.Unmarshal([]byte(data), &m)).To(Succeed())
			g.Expect(m["kind"]).To(Equal(kind), "the event field names the kind")
			n++
			if stop(kind, m) {
				return n
			}
		}
	}
	return n
}

func TestOpenAPIDocumentDescribesEveryAnswer(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	rec := &recorder{t: t, g: g, c: newContract(g, api.OpenAPI)}
	r := start(t, nil, nil, "r0", nil)

	// The document itself, without a token.
	e := rec.call("openapi", r, http.MethodGet, "/v1/openapi.yaml", nil, true, "Authorization", "")
	g.Expect(e.status).To(Equal(http.StatusOK))
	g.Expect(e.respBody).To(Equal(api.OpenAPI))

	// Escalate, again, read.
	body := escalationBody("conv-oa")
	body["locale"] = "en-US"
	e = rec.call("escalate", r, http.MethodPost, "/v1/chats", body, true)
	g.Expect(e.status).To(Equal(http.StatusCreated))
	id := e.json(g)["id"].(string)
	g.Expect(rec.call("escalate again", r, http.MethodPost, "/v1/chats", body, true).status).To(Equal(http.StatusOK))
	var gid string
	g.Eventually(func() any {
		c := rec.call("get chat", r, http.MethodGet, "/v1/chats/"+id, nil, true).json(g)
		gid, _ = c["genesysChatId"].(string)
		return c["state"]
	}).Should(Equal("WaitingForAgent"))
	g.Expect(rec.call("chat of conversation", r, http.MethodGet, "/v1/conversations/conv-oa", nil, true).status).To(Equal(http.StatusOK))

	// An agent, then every call on the chat.
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Expect(r.env.Sim.AgentMessage(gid, "hello")).To(Succeed())
	g.Expect(r.env.Sim.AgentPushURL(gid, "https://example.com/kb")).To(Succeed())
	g.Expect(r.env.Sim.Notice(gid, "transcript saved")).To(Succeed())
	g.Eventually(func() any {
		return rec.call("get chat", r, http.MethodGet, "/v1/chats/"+id, nil, true).json(g)["state"]
	}).Should(Equal("Connected"))
	g.Expect(rec.call("message", r, http.MethodPost, "/v1/chats/"+id+"/messages", map[string]any{"text": "hi", "type": "text"}, true).status).To(Equal(http.StatusNoContent))
	g.Expect(rec.call("typing", r, http.MethodPost, "/v1/chats/"+id+"/typing", map[string]any{"typing": false}, true).status).To(Equal(http.StatusNoContent))
	g.Expect(rec.call("present", r, http.MethodPost, "/v1/chats/"+id+"/present", map[string]any{"url": "https://example.com/a", "title": "A"}, true).status).To(Equal(http.StatusNoContent))
	g.Eventually(func() int {
		page := rec.call("long poll", r, http.MethodGet, "/v1/chats/"+id+"/events?after=0&wait=1s", nil, true).json(g)
		return len(page["events"].([]any))
	}).Should(BeNumerically(">=", 5), "waiting notice, agentJoined, message, pushUrl, notice")
	e = rec.call("long poll, nothing new", r, http.MethodGet, "/v1/chats/"+id+"/events?after=1000&wait=0", nil, true)
	g.Expect(e.json(g)["events"]).To(BeEmpty())

	// The chat's stream, to its terminal event once the chat is closed.
	closed := make(chan int, 1)
	go func() { // closes the chat while the stream is open: no assertion off the test's goroutine
		time.Sleep(200 * time.Millisecond)
		req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+"/v1/chats/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			closed <- 0
			return
		}
		resp.Body.Close()
		closed <- resp.StatusCode
	}()
	n := rec.stream("chat stream", r, "/v1/chats/"+id+"/events", "Event", func(kind string, _ map[string]any) bool {
		return api.EventKind(kind).Terminal()
	})
	g.Expect(n).To(BeNumerically(">=", 4))
	g.Eventually(closed).Should(Receive(Equal(http.StatusOK)))
	g.Expect(rec.call("close again", r, http.MethodDelete, "/v1/chats/"+id, nil, true).status).To(Equal(http.StatusOK))
	last := rec.call("long poll", r, http.MethodGet, "/v1/chats/"+id+"/events", nil, true).json(g)["next"]
	g.Expect(rec.stream("stream of an ended chat", r, "/v1/chats/"+id+"/events", "Event", nil, "Last-Event-ID", fmt.Sprint(last))).
		To(Equal(http.StatusNoContent))

	// The gateway-wide stream, up to the closed chat's end.
	n = rec.stream("gateway stream", r, "/v1/events?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "ChatEvent",
		func(kind string, data map[string]any) bool {
			return data["chatId"] == id && api.EventKind(kind).Terminal()
		})
	g.Expect(n).To(BeNumerically(">=", 4))

	// Problems of every kind.
	rec.problem("no token", r, http.MethodGet, "/v1/chats/"+id, nil, 401, api.ProblemUnauthorized, "Authorization", "")
	rec.problem("wrong token", r, http.MethodGet, "/v1/events", nil, 401, api.ProblemUnauthorized, "Authorization", "Bearer wrong")
	rec.problem("malformed", r, http.MethodPost, "/v1/chats", `{"conversationId":`, 400, api.ProblemMalformedRequest)
	rec.problem("unknown field", r, http.MethodPost, "/v1/chats/"+id+"/messages", `{"text":"x","bogus":1}`, 400, api.ProblemMalformedRequest)
	rec.problem("too large", r, http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "subject": strings.Repeat("y", 5000)}, 413, api.ProblemBodyTooLarge)
	rec.problem("not JSON", r, http.MethodPost, "/v1/chats/"+id+"/typing", `{"typing":true}`, 415, api.ProblemUnsupportedMediaType, "Content-Type", "text/plain")
	rec.problem("invalid field", r, http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "globex", "user": map[string]any{"name": "J"}}, 422, api.ProblemInvalidField)
	rec.problem("invalid present url", r, http.MethodPost, "/v1/chats/"+id+"/present", map[string]any{"url": "/x"}, 422, api.ProblemInvalidField)
	rec.problem("invalid after", r, http.MethodGet, "/v1/chats/"+id+"/events?after=-1", nil, 422, api.ProblemInvalidField)
	rec.problem("invalid wait", r, http.MethodGet, "/v1/chats/"+id+"/events?wait=soon", nil, 422, api.ProblemInvalidField)
	rec.problem("invalid since", r, http.MethodGet, "/v1/events?since=yesterday", nil, 422, api.ProblemInvalidField, "Accept", "text/event-stream")
	rec.problem("unknown chat", r, http.MethodGet, "/v1/chats/r0-nope", nil, 404, api.ProblemNotFound)
	rec.problem("unknown chat's events", r, http.MethodGet, "/v1/chats/r0-nope/events", nil, 404, api.ProblemNotFound)
	rec.problem("unknown chat closed", r, http.MethodDelete, "/v1/chats/r0-nope", nil, 404, api.ProblemNotFound)
	rec.problem("message to an unknown chat", r, http.MethodPost, "/v1/chats/r0-nope/messages", map[string]any{"text": "x"}, 404, api.ProblemNotFound)
	rec.problem("no live chat of the conversation", r, http.MethodGet, "/v1/conversations/conv-oa", nil, 404, api.ProblemNotFound)
	rec.problem("message to an ended chat", r, http.MethodPost, "/v1/chats/"+id+"/messages", map[string]any{"text": "x"}, 409, api.ProblemConflict)
	rec.problem("typing in an ended chat", r, http.MethodPost, "/v1/chats/"+id+"/typing", map[string]any{"typing": true}, 409, api.ProblemConflict)
	rec.problem("present to an ended chat", r, http.MethodPost, "/v1/chats/"+id+"/present", map[string]any{"url": "https://example.com"}, 409, api.ProblemConflict)

	// Genesys refusing and failing a message: 502.
	live := rec.call("escalate", r, http.MethodPost, "/v1/chats", escalationBody("conv-oa-502"), true).json(g)["id"].(string)
	var liveGID string
	g.Eventually(func() string {
		liveGID, _ = rec.call("get chat", r, http.MethodGet, "/v1/chats/"+live, nil, true).json(g)["genesysChatId"].(string)
		return liveGID
	}).ShouldNot(BeEmpty())
	r.env.Sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: liveGID, Times: 1, Errors: []gms.APIError{{Code: 8201, Advice: "no such user"}}})
	rec.problem("refused", r, http.MethodPost, "/v1/chats/"+live+"/messages", map[string]any{"text": "x"}, 502, api.ProblemGenesysRefused)
	r.env.Sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus1, Op: gms.OpSend, ChatID: liveGID, Times: 10})
	rec.problem("Genesys failed", r, http.MethodPost, "/v1/chats/"+live+"/messages", map[string]any{"text": "x"}, 502, api.ProblemGenesysError)

	// 409 present-content-disabled, 503 over capacity and unavailable: runners set so.
	off := start(t, func(s *chat.Settings) { s.SupportPresentContent = false }, nil, "r0", nil)
	offID := rec.call("escalate", off, http.MethodPost, "/v1/chats", escalationBody("conv-off"), true).json(g)["id"].(string)
	rec.problem("present disabled", off, http.MethodPost, "/v1/chats/"+offID+"/present", map[string]any{"url": "https://example.com"}, 409, api.ProblemPresentContentDisabled)
	full := start(t, func(s *chat.Settings) { s.Agents, s.MaxChatsPerAgent = 1, 1 }, nil, "r0", nil)
	rec.call("escalate", full, http.MethodPost, "/v1/chats", escalationBody("conv-a"), true)
	e = rec.problem("over capacity", full, http.MethodPost, "/v1/chats", escalationBody("conv-b"), 503, api.ProblemOverCapacity)
	g.Expect(e.respHeader.Get("Retry-After")).NotTo(BeEmpty())
	tokenless := start(t, nil, nil, "r0", func() ([]string, error) { return nil, fmt.Errorf("no token") })
	rec.problem("token unreadable", tokenless, http.MethodGet, "/v1/conversations/c", nil, 503, api.ProblemUnavailable)

	// 405 is no operation of the document (a method the path lacks): its answer is the
	// document's MethodNotAllowed response.
	for _, m := range [][2]string{{http.MethodPut, "/v1/chats/" + id}, {http.MethodGet, "/v1/chats"}, {http.MethodGet, "/v1/chats/" + id + "/messages"}, {http.MethodPost, "/v1/events"}, {http.MethodPost, "/v1/openapi.yaml"}} {
		e := rec.send("wrong method", r, m[0], m[1], nil, false)
		g.Expect(e.status).To(Equal(http.StatusMethodNotAllowed))
		g.Expect(e.respHeader.Get("Allow")).NotTo(BeEmpty())
		rec.methodNotAllowed(e)
	}

	// Drift: the same answers against a document missing a field or a status fail.
	for _, drift := range []struct {
		name   string
		change func(doc map[string]any)
		call   string
	}{
		{"a Chat field", func(d map[string]any) { delete(at(d, "components", "schemas", "Chat", "properties"), "genesysChatId") }, "get chat"},
		{"an Event field", func(d map[string]any) { delete(at(d, "components", "schemas", "EventFields", "properties"), "canned") }, "long poll"},
		{"a Problem field", func(d map[string]any) { delete(at(d, "components", "schemas", "Problem", "properties"), "field") }, "invalid field"},
		{"a status", func(d map[string]any) {
			delete(at(d, "paths", "/v1/chats/{id}/messages", "post", "responses"), "409")
		}, "message to an ended chat"},
		{"a problem type", func(d map[string]any) {
			at(d, "components", "responses", "GenesysFailed", "content", "application/problem+json")["schema"] = map[string]any{
				"allOf": []any{
					map[string]any{"$ref": "#/components/schemas/Problem"},
					map[string]any{"properties": map[string]any{"type": map[string]any{"const": api.ProblemGenesysError}}},
				},
			}
		}, "refused"},
		{"a response header", func(d map[string]any) {
			at(d, "paths", "/v1/chats", "post", "responses", "201", "headers", "Location", "schema")["pattern"] = "^/v2/"
		}, "escalate"},
	} {
		var doc map[string]any
		g.Expect(yaml.Unmarshal(api.OpenAPI, &doc)).To(Succeed())
		drift.change(doc)
		changed, err := json.Marshal(doc)
		g.Expect(err).NotTo(HaveOccurred())
		c := newContract(g, changed)
		failed := 0
		for _, e := range rec.exchanges {
			if e.name == drift.call && len(c.validate(e)) > 0 {
				failed++
			}
		}
		g.Expect(failed).To(BeNumerically(">", 0), "a document without %s fails the %q answers", drift.name, drift.call)
	}
}

// methodNotAllowed validates a 405 answer against the document's MethodNotAllowed response.
func (rec *recorder) methodNotAllowed(e *exchange) {
	g := rec.g
	var doc map[string]any
	g.Expect(yaml.Unmarshal(api.OpenAPI, &doc)).To(Succeed())
	resp := at(doc, "components", "responses", "MethodNotAllowed")
	g.Expect(resp).To(HaveKey("content"))
	g.Expect(at(resp, "content")).To(HaveKey(e.respHeader.Get("Content-Type")))
	ok, errs := rec.c.sv.ValidateSchemaString(rec.c.schemas["Problem"], string(e.respBody))
	g.Expect(ok).To(BeTrue(), "%v", messages(errs))
	var p api.Problem
	g.Expect(json.Unmarshal(e.respBody, &p)).To(Succeed())
	g.Expect(p.Type).To(Equal(api.ProblemMethodNotAllowed))
	g.Expect(p.Status).To(Equal(http.StatusMethodNotAllowed))
}

// at walks a decoded YAML document by keys; a missing key fails the type assertion.
func at(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}
