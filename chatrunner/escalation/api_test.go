package escalation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

const token = "s3cr3t-token"

// runner is one escalation API in front of an engine.
type runner struct {
	env *chattest.Env
	srv *httptest.Server
}

// start serves an engine through the API; router may be nil.
func start(t *testing.T, settings func(*chat.Settings), router *escalation.Router, prefix string, tokens escalation.TokenSource) *runner {
	s := chattest.Settings()
	if settings != nil {
		settings(&s)
	}
	env := chattest.Start(t, s, gmssim.Options{}, chat.Options{IDPrefix: prefix})
	if tokens == nil {
		tokens = func() ([]string, error) { return []string{token}, nil }
	}
	srv := httptest.NewServer(escalation.NewHandler(escalation.Options{Engine: env.Manager, Tokens: tokens, Router: router, MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return &runner{env: env, srv: srv}
}

// call sends a request with the token and returns the status, headers and decoded body.
func (r *runner) call(g *WithT, method, path string, body any) (int, http.Header, map[string]any) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		g.Expect(err).NotTo(HaveOccurred())
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		g.Expect(json.Unmarshal(raw, &out)).To(Succeed(), string(raw))
	}
	return resp.StatusCode, resp.Header, out
}

// escalated escalates a conversation and waits until Genesys has its chat; it returns
// the chat's id and Genesys chat id.
func (r *runner) escalated(g *WithT, conversation string) (id, gid string) {
	_, _, created := r.call(g, http.MethodPost, "/v1/chats", escalationBody(conversation))
	id = created["id"].(string)
	g.Eventually(func() string {
		_, _, c := r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		gid, _ = c["genesysChatId"].(string)
		return gid
	}).ShouldNot(BeEmpty())
	return id, gid
}

func escalationBody(conversation string) map[string]any {
	return map[string]any{
		"conversationId": conversation,
		"domain":         "acme",
		"user":           map[string]any{"firstName": "Jane", "lastName": "Doe", "timeZoneOffsetMinutes": 60},
		"subject":        "Help",
		"attributes":     map[string]string{"Plan": "Gold"},
	}
}

func TestBearerTokenIsRequiredAndReadLive(t *testing.T) {
	g := NewWithT(t)
	var current atomic.Value
	current.Store(token)
	r := start(t, nil, nil, "r0", func() ([]string, error) { return []string{current.Load().(string)}, nil })
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token, "Bearer " + token + "x"} {
		req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/v1/chats/r0-1", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), auth)
		g.Expect(resp.Header.Get("Content-Type")).To(Equal("application/problem+json"))
		g.Expect(resp.Header.Get("WWW-Authenticate")).To(HavePrefix("Bearer"))
	}
	status, _, _ := r.call(g, http.MethodGet, "/v1/chats/r0-1", nil)
	g.Expect(status).To(Equal(http.StatusNotFound), "the right token passes")

	current.Store("rotated")
	status, _, body := r.call(g, http.MethodGet, "/v1/chats/r0-1", nil)
	g.Expect(status).To(Equal(http.StatusUnauthorized), "the old token is refused after rotation")
	g.Expect(body["type"]).To(Equal("https://chat.gatewayops.io/problems/unauthorized"))
}

func TestMissingTokenRefusesEveryCall(t *testing.T) {
	g := NewWithT(t)
	r := start(t, nil, nil, "r0", func() ([]string, error) { return nil, fmt.Errorf("secret has no key") })
	status, _, body := r.call(g, http.MethodPost, "/v1/chats", escalationBody("c"))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable))
	g.Expect(body["detail"]).To(ContainSubstring("token"))
}

func TestEscalateIsIdempotentAndReadable(t *testing.T) {
	g := NewWithT(t)
	r := start(t, nil, nil, "r0", nil)
	status, hdr, created := r.call(g, http.MethodPost, "/v1/chats", escalationBody("conv-1"))
	g.Expect(status).To(Equal(http.StatusCreated))
	id := created["id"].(string)
	g.Expect(id).To(HavePrefix("r0-"))
	g.Expect(hdr.Get("Location")).To(Equal("/v1/chats/" + id))
	g.Expect(created["state"]).To(Equal("Requesting"))
	g.Expect(created["conversationId"]).To(Equal("conv-1"))

	status, _, again := r.call(g, http.MethodPost, "/v1/chats", escalationBody("conv-1"))
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(again["id"]).To(Equal(id))

	g.Eventually(func() any {
		_, _, got := r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		return got["state"]
	}).Should(Equal("WaitingForAgent"))
	_, _, got := r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
	g.Expect(got["genesysChatId"]).NotTo(BeEmpty())
	g.Expect(got).NotTo(HaveKey("secureKey"))
	g.Expect(r.env.Sim.Chats()).To(HaveLen(1), "one Genesys chat for both calls")
	sc := r.env.Sim.Chats()[0]
	g.Expect(sc.UserData).To(HaveKeyWithValue("TimeZone", "60"))
	g.Expect(sc.UserData).To(HaveKeyWithValue("Plan", "Gold"))

	status, _, closed := r.call(g, http.MethodDelete, "/v1/chats/"+id, nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(closed["state"]).To(Equal("Ended"))
	g.Expect(closed["endReason"]).To(Equal("UserClosed"))
	status, _, _ = r.call(g, http.MethodDelete, "/v1/chats/"+id, nil)
	g.Expect(status).To(Equal(http.StatusOK), "closing twice is fine")
}

func TestBadRequestsGetProblems(t *testing.T) {
	g := NewWithT(t)
	r := start(t, func(s *chat.Settings) { s.Queue = "billing"; s.SupportPresentContent = false }, nil, "r0", nil)
	long := strings.Repeat("x", 300)
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"malformed JSON", http.MethodPost, "/v1/chats", `{"conversationId":`, 400, ""},
		{"unknown field", http.MethodPost, "/v1/chats", `{"conversationId":"c","domain":"acme","bogus":1}`, 400, ""},
		{"two objects", http.MethodPost, "/v1/chats", `{"conversationId":"c"} {}`, 400, ""},
		{"missing conversationId", http.MethodPost, "/v1/chats", map[string]any{"domain": "acme", "user": map[string]any{"name": "J"}}, 422, "conversationId"},
		{"conversationId too long", http.MethodPost, "/v1/chats", map[string]any{"conversationId": long, "domain": "acme"}, 422, "conversationId"},
		{"other domain", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "globex", "queue": "billing", "user": map[string]any{"name": "J"}}, 422, "domain"},
		{"other queue", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "acme", "queue": "sales", "user": map[string]any{"name": "J"}}, 422, "queue"},
		{"no user name", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "acme", "queue": "billing"}, 422, "user"},
		{"time zone out of range", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "acme", "user": map[string]any{"name": "J", "timeZoneOffsetMinutes": 2000}}, 422, "user.timeZoneOffsetMinutes"},
		{"bracket in attribute key", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "domain": "acme", "user": map[string]any{"name": "J"}, "attributes": map[string]string{"a]b": "x"}}, 422, "attributes"},
		{"oversized body", http.MethodPost, "/v1/chats", map[string]any{"conversationId": "c", "subject": strings.Repeat("y", 5000)}, 413, ""},
		{"unknown chat", http.MethodGet, "/v1/chats/r0-nope", nil, 404, ""},
		{"unknown resource", http.MethodGet, "/v2/things", nil, 404, ""},
		{"unknown action", http.MethodPost, "/v1/chats/r0-x/dance", `{}`, 404, ""},
		{"wrong method", http.MethodPut, "/v1/chats/r0-x", nil, 405, ""},
		{"message without text", http.MethodPost, "/v1/chats/r0-x/messages", `{"type":"text"}`, 422, "text"},
		{"typing without typing", http.MethodPost, "/v1/chats/r0-x/typing", `{}`, 422, "typing"},
		{"present without url", http.MethodPost, "/v1/chats/r0-x/present", `{"title":"t"}`, 422, "url"},
		{"present with a relative url", http.MethodPost, "/v1/chats/r0-x/present", `{"url":"/x"}`, 422, "url"},
		{"message to an unknown chat", http.MethodPost, "/v1/chats/r0-x/messages", `{"text":"hi"}`, 404, ""},
		{"negative after", http.MethodGet, "/v1/chats/r0-x/events?after=-1", nil, 422, "after"},
		{"bad wait", http.MethodGet, "/v1/chats/r0-x/events?wait=soon", nil, 422, "wait"},
	}
	for _, tc := range cases {
		status, hdr, body := r.call(g, tc.method, tc.path, tc.body)
		g.Expect(status).To(Equal(tc.status), tc.name)
		g.Expect(hdr.Get("Content-Type")).To(Equal("application/problem+json"), tc.name)
		g.Expect(body["type"]).To(HavePrefix("https://chat.gatewayops.io/problems/"), tc.name)
		g.Expect(body["detail"]).NotTo(BeEmpty(), tc.name)
		g.Expect(body["status"]).To(BeEquivalentTo(tc.status), tc.name)
		if tc.field != "" {
			g.Expect(body["field"]).To(Equal(tc.field), tc.name)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/v1/chats", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnsupportedMediaType))

	// Present content off: 409 saying so.
	body := escalationBody("conv-present")
	body["queue"] = "billing"
	_, _, created := r.call(g, http.MethodPost, "/v1/chats", body)
	status, _, problem := r.call(g, http.MethodPost, "/v1/chats/"+created["id"].(string)+"/present", map[string]string{"url": "https://example.com"})
	g.Expect(status).To(Equal(http.StatusConflict))
	g.Expect(problem["detail"]).To(ContainSubstring("supportPresentContent"))
	g.Eventually(r.env.Sim.Chats).Should(HaveLen(1))
	g.Consistently(r.env.Sim.Chats, 100*time.Millisecond).Should(HaveLen(1), "no bad request reached Genesys")
}

func TestOverCapacityAnswers503WithRetryAfter(t *testing.T) {
	g := NewWithT(t)
	r := start(t, func(s *chat.Settings) { s.Agents, s.MaxChatsPerAgent = 1, 1 }, nil, "r0", nil)
	status, _, _ := r.call(g, http.MethodPost, "/v1/chats", escalationBody("a"))
	g.Expect(status).To(Equal(http.StatusCreated))
	status, hdr, body := r.call(g, http.MethodPost, "/v1/chats", escalationBody("b"))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable))
	g.Expect(hdr.Get("Retry-After")).To(Equal("10"))
	g.Expect(body["type"]).To(HaveSuffix("over-capacity"))
}

// events reads a chat's events after a seq, waiting up to wait.
func events(g *WithT, r *runner, id string, after int, wait string) []any {
	_, _, body := r.call(g, http.MethodGet, fmt.Sprintf("/v1/chats/%s/events?after=%d&wait=%s", id, after, wait), nil)
	g.Expect(body["chatId"]).To(Equal(id))
	return body["events"].([]any)
}

func TestEventsLongPollInOrder(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := start(t, nil, nil, "r0", nil)
	id, gid := r.escalated(g, "conv-ev")
	first := events(g, r, id, 0, "0")
	g.Expect(first).To(HaveLen(1), "the waiting notice")

	got := make(chan []any, 1)
	go func() { got <- events(g, r, id, 1, "20s") }()
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	var evs []any
	g.Eventually(got).Should(Receive(&evs))
	g.Expect(evs[0]).To(HaveKeyWithValue("seq", BeEquivalentTo(2)))
	g.Expect(evs[0]).To(HaveKeyWithValue("kind", "agentJoined"))
	g.Expect(evs[0]).To(HaveKeyWithValue("agent", "Alice"))

	for i := range 3 {
		g.Expect(r.env.Sim.AgentMessage(gid, fmt.Sprintf("m%d", i))).To(Succeed())
	}
	var all []any
	g.Eventually(func() int { all = events(g, r, id, 0, "0"); return len(all) }).Should(BeNumerically(">=", 6))
	for i, e := range all {
		g.Expect(e).To(HaveKeyWithValue("seq", BeEquivalentTo(i+1)))
	}
	g.Expect(all[3]).To(HaveKeyWithValue("text", "m0"))
	g.Expect(all[5]).To(HaveKeyWithValue("text", "m2"))
	status, _, _ := r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", map[string]string{"text": "thanks & bye"})
	g.Expect(status).To(Equal(http.StatusNoContent))
	status, _, _ = r.call(g, http.MethodPost, "/v1/chats/"+id+"/typing", map[string]bool{"typing": true})
	g.Expect(status).To(Equal(http.StatusNoContent))
	sc, _ := r.env.Sim.Chat(gid)
	g.Expect(sc.Transcript).To(ContainElement(HaveField("Text", "thanks & bye")))
}

func TestCallsReachTheRunnerOwningTheChat(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	// Two runners in one process, each resolving the other through a switchboard.
	urls := make([]*url.URL, 2)
	resolve := func(n int) (*url.URL, error) { return urls[n], nil }
	replicas := func() int { return 2 }
	runners := make([]*runner, 2)
	for i := range runners {
		runners[i] = start(t, nil, &escalation.Router{Self: i, Replicas: replicas, Resolve: resolve}, escalation.ChatIDPrefix(i), nil)
		urls[i], _ = url.Parse(runners[i].srv.URL)
	}
	// Escalations land on whichever runner; each belongs to the one its conversation
	// hashes to, and a retry through the other runner finds the same chat.
	owners := map[string]int{}
	for i := range 8 {
		conv := fmt.Sprintf("conv-%d", i)
		status, _, created := runners[i%2].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
		g.Expect(status).To(Equal(http.StatusCreated))
		id := created["id"].(string)
		owners[id] = int(id[1] - '0')
		status, _, again := runners[(i+1)%2].call(g, http.MethodPost, "/v1/chats", escalationBody(conv))
		g.Expect(status).To(Equal(http.StatusOK), "idempotent across runners")
		g.Expect(again["id"]).To(Equal(id))
	}
	g.Expect(owners).To(ContainElements(0, 1), "both runners own chats")
	g.Eventually(func() int {
		return len(runners[0].env.Sim.Chats()) + len(runners[1].env.Sim.Chats())
	}).Should(Equal(8), "one Genesys chat per conversation")
	g.Consistently(func() int {
		return len(runners[0].env.Sim.Chats()) + len(runners[1].env.Sim.Chats())
	}, 100*time.Millisecond).Should(Equal(8))

	for id, owner := range owners {
		other := runners[1-owner]
		g.Eventually(func() any { _, _, c := other.call(g, http.MethodGet, "/v1/chats/"+id, nil); return c["state"] }).Should(Equal("WaitingForAgent"))
		_, _, c := other.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		gid := c["genesysChatId"].(string)
		g.Expect(runners[owner].env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		g.Eventually(func() []any { return events(g, other, id, 1, "5s") }).Should(ContainElement(HaveKeyWithValue("kind", "agentJoined")))
		status, _, _ := other.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", map[string]string{"text": "via the other runner"})
		g.Expect(status).To(Equal(http.StatusNoContent))
		sc, _ := runners[owner].env.Sim.Chat(gid)
		g.Expect(sc.Transcript).To(ContainElement(HaveField("Text", "via the other runner")))
		status, _, closed := other.call(g, http.MethodDelete, "/v1/chats/"+id, nil)
		g.Expect(status).To(Equal(http.StatusOK))
		g.Expect(closed["endReason"]).To(Equal("UserClosed"))
	}
}

// TestAMessageWhoseCallEndsWhileWaitingIsAnswered503: a message waiting for the chat's
// previous one, still on its way to Genesys, whose call ends meanwhile is answered 503
// with Retry-After (not 500) and is not sent.
func TestAMessageWhoseCallEndsWhileWaitingIsAnswered503(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(10 * time.Second)
	r := start(t, nil, nil, "r0", nil)
	id, gid := r.escalated(g, "conv-ends")
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(func() any {
		_, _, c := r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		return c["state"]
	}).Should(Equal("Connected"))

	// The first message is held until the client's attempt timeout, then sent again.
	r.env.Sim.Inject(gmssim.Fault{Kind: gmssim.FaultDelay, Delay: time.Hour, Op: gms.OpSend, ChatID: gid, Times: 1})
	first := make(chan int, 1)
	go func() {
		status, _, _ := r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", map[string]string{"text": "first"})
		first <- status
	}()
	g.Eventually(func() int { return r.requests(gms.OpSend, gid) }).ShouldNot(BeZero(), "the first message reached the simulator")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chats/"+id+"/messages", strings.NewReader(`{"text":"second"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.srv.Config.Handler.ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(http.StatusServiceUnavailable), rec.Body.String())
	g.Expect(rec.Header().Get("Retry-After")).To(Equal("1"))
	g.Expect(rec.Header().Get("Content-Type")).To(Equal("application/problem+json"))

	g.Eventually(first).Should(Receive(Equal(http.StatusNoContent)))
	sc, _ := r.env.Sim.Chat(gid)
	var texts []string
	for _, e := range sc.Transcript {
		if e.Type == gms.EventMessage && e.From.Type == gms.ParticipantClient {
			texts = append(texts, e.Text)
		}
	}
	g.Expect(texts).To(Equal([]string{"first"}))
}
