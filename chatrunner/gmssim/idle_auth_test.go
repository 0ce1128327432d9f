package gmssim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestIdleTimeoutEndsTheChat(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	c := newTC(t, Options{Clock: clk, IdleTimeout: 45 * time.Second})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())

	// Polling keeps the chat alive.
	clk.Step(30 * time.Second)
	g.Expect(c.refresh(s, 2).resp.StatusCode).To(Equal(gms.StatusOK))
	clk.Step(45 * time.Second) // exactly the timeout: still alive
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeFalse())
	g.Expect(chat.LastRequest).To(Equal(start.Add(30 * time.Second)))

	// Agent activity does not keep the client alive.
	g.Expect(c.sim.AgentMessage(s.chatID, "still there?")).To(Succeed())
	clk.Step(time.Second)
	chat, _ = c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeTrue())
	g.Expect(chat.Transcript[len(chat.Transcript)-1]).To(Equal(gms.Event{
		From:    system,
		Index:   4,
		Type:    gms.EventIdleClose,
		UTCTime: start.Add(75 * time.Second).UnixMilli(),
		Text:    "The chat was closed because the customer was inactive.",
	}))
	g.Expect(c.sim.AgentMessage(s.chatID, "late")).To(MatchError(ErrChatEnded))

	a := c.refresh(s, 3)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(types(a.resp.Messages)).To(Equal([]string{gms.EventMessage, gms.EventIdleClose}))
	a = c.refresh(s, 5)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeLoggedOut))
}

func TestIdleTimeoutIsEvaluatedByEveryEntryPoint(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	c := newTC(t, Options{Clock: clk, IdleTimeout: time.Minute})
	g := c.g
	s1, _ := c.requestChat(nil)
	s2, _ := c.requestChat(nil)
	s3, _ := c.requestChat(nil)
	clk.Step(2 * time.Minute)
	a := c.op(s3, "send", url.Values{gms.ParamMessage: {"x"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(c.sim.Notice(s2.chatID, "x")).To(MatchError(ErrChatEnded))
	chats := c.sim.Chats()
	g.Expect(chats[0].Ended).To(BeTrue())
	for _, s := range []session{s1, s2, s3} {
		chat, _ := c.sim.Chat(s.chatID)
		g.Expect(types(chat.Transcript)).To(Equal([]string{gms.EventParticipantJoined, gms.EventIdleClose}))
	}
}

func TestBasicAuth(t *testing.T) {
	c := newTC(t, Options{BasicAuth: &Credentials{Username: "gms", Password: "pa55-word"}})
	g := c.g

	refused := func(a answer) {
		t.Helper()
		g.Expect(a.status).To(Equal(http.StatusUnauthorized))
		g.Expect(a.header.Get("WWW-Authenticate")).To(HavePrefix("Basic "))
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
		g.Expect(a.resp.Errors).To(HaveLen(1))
		g.Expect(a.resp.Errors[0].Code).To(Equal(401))
		g.Expect(a.resp.Errors[0].Advice).NotTo(BeEmpty())
		g.Expect(string(a.body)).NotTo(ContainSubstring("pa55-word"))
	}
	refused(c.post(testService, url.Values{gms.ParamNickname: {"x"}}))
	c.user, c.password = "gms", "wrong"
	refused(c.post(testService, url.Values{gms.ParamNickname: {"x"}}))
	c.user, c.password = "other", "pa55-word"
	refused(c.post(testService, url.Values{gms.ParamNickname: {"x"}}))
	c.user, c.password = "gms", "pa55-word"
	s, _ := c.requestChat(nil)
	g.Expect(c.refresh(s, 2).status).To(Equal(http.StatusOK))

	// The control API is not behind it.
	res, err := http.Get(c.srv.URL + "/sim/chats")
	g.Expect(err).NotTo(HaveOccurred())
	_ = res.Body.Close()
	g.Expect(res.StatusCode).To(Equal(http.StatusOK))

	// Rotation.
	c.sim.SetBasicAuth(&Credentials{Username: "gms", Password: "new-pa55"})
	refused(c.refresh(s, 2))
	c.password = "new-pa55"
	g.Expect(c.refresh(s, 2).status).To(Equal(http.StatusOK))
	c.sim.SetBasicAuth(nil)
	c.user = ""
	g.Expect(c.refresh(s, 2).status).To(Equal(http.StatusOK))

	// A refused request consumes no fault.
	c.sim.SetBasicAuth(&Credentials{Username: "gms", Password: "x"})
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, Times: 1})
	refused(c.refresh(s, 2))
	c.user, c.password = "gms", "x"
	g.Expect(c.refresh(s, 2).status).To(Equal(http.StatusServiceUnavailable))
	reqs := c.sim.Requests()
	g.Expect(reqs[0].Header.Get("Authorization")).To(BeEmpty())
	g.Expect(reqs[len(reqs)-1].Header.Get("Authorization")).To(HavePrefix("Basic "))
}

func TestBearerTokenRequiredWhenConfigured(t *testing.T) {
	c := newTC(t, Options{BearerToken: func(token string) bool { return token == "good-token" }})
	g := c.g
	for auth, want := range map[string]int{"": http.StatusUnauthorized, "Bearer bad": http.StatusUnauthorized, "Basic Z29vZC10b2tlbg==": http.StatusUnauthorized, "Bearer good-token": http.StatusOK} {
		req, err := http.NewRequest(http.MethodPost, c.base+testService, strings.NewReader(url.Values{gms.ParamNickname: {"Jane"}}.Encode()))
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(want), auth)
	}
}
