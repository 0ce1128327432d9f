package gmssim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// ctl calls the control API and returns the status, content type and body.
func (c *tc) ctl(method, path, body string) (int, string, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	c.g.Expect(err).NotTo(HaveOccurred())
	res, err := c.srv.Client().Do(req)
	c.g.Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	c.g.Expect(err).NotTo(HaveOccurred())
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

func TestControlAPIPlaysTheAgent(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	chatPath := "/sim/chats/" + s.chatID

	status, ct, body := c.ctl(http.MethodPost, chatPath+"/join", `{"nickname":"Ann","email":"ann@example.com"}`)
	g.Expect(status).To(Equal(http.StatusOK), string(body))
	g.Expect(ct).To(Equal("application/json"))
	var chat Chat
	g.Expect(json.Unmarshal(body, &chat)).To(Succeed())
	g.Expect(chat.Agents).To(Equal([]Agent{{Nickname: "Ann", Email: "ann@example.com"}}))

	for _, step := range []struct{ path, body string }{
		{"/typing", `{"typing":true}`},
		{"/message", `{"text":"Hello & welcome"}`},
		{"/push", `{"url":"https://example.com"}`},
		{"/notice", `{"text":"wait"}`},
		{"/transfer", `{"nickname":"Bob"}`},
		{"/leave", ``},
		{"/join", `{"nickname":"Cy"}`},
		{"/close", ``},
	} {
		status, _, body := c.ctl(http.MethodPost, chatPath+step.path, step.body)
		g.Expect(status).To(Equal(http.StatusOK), "%s: %s", step.path, body)
	}
	a := c.refresh(s, 2)
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(types(a.resp.Messages)).To(Equal([]string{
		gms.EventParticipantJoined, gms.EventTypingStarted, gms.EventMessage, gms.EventPushURL, gms.EventNotice,
		gms.EventParticipantLeft, gms.EventParticipantJoined, gms.EventParticipantLeft, gms.EventParticipantJoined,
		gms.EventParticipantLeft,
	}))
	g.Expect(a.resp.Messages[2].Text).To(Equal("Hello & welcome"))

	// Snapshots, with lower-camel names and never the secure key.
	status, ct, body = c.ctl(http.MethodGet, chatPath, "")
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(ct).To(Equal("application/json"))
	g.Expect(string(body)).NotTo(ContainSubstring(s.secureKey))
	var raw map[string]any
	g.Expect(json.Unmarshal(body, &raw)).To(Succeed())
	g.Expect(raw).To(HaveKeyWithValue("id", s.chatID))
	g.Expect(raw).To(HaveKeyWithValue("userId", s.userID))
	g.Expect(raw).To(HaveKeyWithValue("ended", true))
	g.Expect(raw).To(HaveKey("transcript"))
	g.Expect(raw).To(HaveKey("lastRequest"))
	status, _, body = c.ctl(http.MethodGet, "/sim/chats", "")
	g.Expect(status).To(Equal(http.StatusOK))
	var chats []Chat
	g.Expect(json.Unmarshal(body, &chats)).To(Succeed())
	g.Expect(chats).To(HaveLen(1))
	g.Expect(chats[0].Transcript).To(HaveLen(11))

	// Errors are problems.
	problemOf := func(status int, ct string, body []byte) (int, string) {
		g.Expect(ct).To(Equal("application/problem+json"))
		var p struct {
			Detail string `json:"detail"`
		}
		g.Expect(json.Unmarshal(body, &p)).To(Succeed())
		g.Expect(p.Detail).NotTo(BeEmpty())
		return status, p.Detail
	}
	st, detail := problemOf(c.ctl(http.MethodPost, chatPath+"/message", `{"text":"late"}`))
	g.Expect(st).To(Equal(http.StatusConflict))
	g.Expect(detail).To(ContainSubstring("ended"))
	st, _ = problemOf(c.ctl(http.MethodGet, "/sim/chats/nope", ""))
	g.Expect(st).To(Equal(http.StatusNotFound))
	st, _ = problemOf(c.ctl(http.MethodPost, "/sim/chats/nope/join", `{"nickname":"x"}`))
	g.Expect(st).To(Equal(http.StatusNotFound))
	st, _ = problemOf(c.ctl(http.MethodPost, chatPath+"/dance", ``))
	g.Expect(st).To(Equal(http.StatusNotFound))
	st, _ = problemOf(c.ctl(http.MethodPost, chatPath+"/join", `{"nickname":`))
	g.Expect(st).To(Equal(http.StatusBadRequest))
	s2, _ := c.requestChat(nil)
	st, _ = problemOf(c.ctl(http.MethodPost, "/sim/chats/"+s2.chatID+"/message", `{"text":"x"}`))
	g.Expect(st).To(Equal(http.StatusConflict))
	st, _ = problemOf(c.ctl(http.MethodGet, "/sim/bogus", ""))
	g.Expect(st).To(Equal(http.StatusNotFound))
}

func TestControlAPIFaults(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	status, _, body := c.ctl(http.MethodPost, "/sim/faults", `{"kind":"delay","delay":"150ms","op":"refresh","times":1}`)
	g.Expect(status).To(Equal(http.StatusOK), string(body))
	g.Expect(string(body)).To(MatchJSON(`{"id":1}`))
	status, _, body = c.ctl(http.MethodPost, "/sim/faults", `{"kind":"httpStatus","httpStatus":429,"chatId":"`+s.chatID+`","op":"send"}`)
	g.Expect(status).To(Equal(http.StatusOK), string(body))
	g.Expect(string(body)).To(MatchJSON(`{"id":2}`))
	_, _, body = c.ctl(http.MethodGet, "/sim/faults", "")
	g.Expect(string(body)).To(MatchJSON(`[{"id":1,"kind":"delay","delay":"150ms","op":"refresh","times":1,"left":1},
		{"id":2,"kind":"httpStatus","httpStatus":429,"chatId":"` + s.chatID + `","op":"send"}]`))

	begin := time.Now()
	g.Expect(c.refresh(s, 2).resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(time.Since(begin)).To(BeNumerically(">=", 150*time.Millisecond))
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(http.StatusTooManyRequests))

	status, _, _ = c.ctl(http.MethodDelete, "/sim/faults", "")
	g.Expect(status).To(Equal(http.StatusNoContent))
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(http.StatusOK))
	_, _, body = c.ctl(http.MethodGet, "/sim/faults", "")
	g.Expect(string(body)).To(MatchJSON(`[]`))

	for _, bad := range []string{`{"kind":"bogus"}`, `{"kind":"delay","delay":"soon"}`, `{"kind":"delay","delay":"-1s"}`,
		`{"kind":"reset","times":-1}`, `{"kind":"httpStatus","httpStatus":99}`, `[`, ``} {
		status, ct, _ := c.ctl(http.MethodPost, "/sim/faults", bad)
		g.Expect(status).To(Equal(http.StatusBadRequest), bad)
		g.Expect(ct).To(Equal("application/problem+json"), bad)
	}
}

func TestControlAPIRequestsAreRedacted(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	req, err := http.NewRequest(http.MethodPost, c.base+testService+"/"+s.chatID+"/refresh", strings.NewReader(url.Values{
		gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias}, gms.ParamTranscriptPosition: {"1"},
	}.Encode()))
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer top-secret-token")
	g.Expect(c.do(req).status).To(Equal(http.StatusOK))

	status, ct, body := c.ctl(http.MethodGet, "/sim/requests", "")
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(ct).To(Equal("application/json"))
	g.Expect(string(body)).NotTo(ContainSubstring(s.secureKey))
	g.Expect(string(body)).NotTo(ContainSubstring("top-secret-token"))
	var reqs []Request
	g.Expect(json.Unmarshal(body, &reqs)).To(Succeed())
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[1].Op).To(Equal(gms.OpRefresh))
	g.Expect(reqs[1].ChatID).To(Equal(s.chatID))
	g.Expect(reqs[1].Form.Get(gms.ParamSecureKey)).To(Equal("<redacted>"))
	g.Expect(reqs[1].Form.Get(gms.ParamUserID)).To(Equal(s.userID))
	g.Expect(reqs[1].Header.Get("Authorization")).To(Equal("<redacted>"))
	var raw []map[string]any
	g.Expect(json.Unmarshal(body, &raw)).To(Succeed())
	g.Expect(raw[1]).To(HaveKey("op"))
	g.Expect(raw[1]).To(HaveKey("chatId"))
	g.Expect(raw[1]).To(HaveKey("form"))
	g.Expect(raw[1]).To(HaveKey("time"))

	// The Go API keeps them as received; the control API's requests are not recorded.
	g.Expect(c.sim.Requests()[1].Form.Get(gms.ParamSecureKey)).To(Equal(s.secureKey))
	g.Expect(c.sim.Requests()).To(HaveLen(2))

	status, _, _ = c.ctl(http.MethodDelete, "/sim/requests", "")
	g.Expect(status).To(Equal(http.StatusNoContent))
	_, _, body = c.ctl(http.MethodGet, "/sim/requests", "")
	g.Expect(string(body)).To(MatchJSON(`[]`))
}
