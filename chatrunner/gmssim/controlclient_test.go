package gmssim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// ControlClient against the simulator's own control API: every action, as the Go API
// would play it, and the refusals typed.

func TestControlClientPlaysTheAgent(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	ctx := t.Context()
	ctl := NewControlClient(c.srv.URL+"/", c.srv.Client())
	s, _ := c.requestChat(nil)

	chats, err := ctl.Chats(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(chats).To(ConsistOf(HaveField("ID", s.chatID)))

	g.Expect(ctl.Join(ctx, s.chatID, Agent{Nickname: "Ann", Email: "ann@example.com"})).To(Succeed())
	chat, err := ctl.Chat(ctx, s.chatID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(chat.Agents).To(Equal([]Agent{{Nickname: "Ann", Email: "ann@example.com"}}))

	g.Expect(ctl.Typing(ctx, s.chatID, true)).To(Succeed())
	g.Expect(ctl.Message(ctx, s.chatID, "Hello & welcome")).To(Succeed())
	g.Expect(ctl.PushURL(ctx, s.chatID, "https://example.com/kb?a=1&b=2")).To(Succeed())
	g.Expect(ctl.Notice(ctx, s.chatID, "wait")).To(Succeed())
	g.Expect(ctl.Transfer(ctx, s.chatID, Agent{Nickname: "Bob"})).To(Succeed())
	g.Expect(ctl.Leave(ctx, s.chatID)).To(Succeed())
	g.Expect(ctl.Join(ctx, s.chatID, Agent{Nickname: "Cy"})).To(Succeed())
	g.Expect(ctl.Typing(ctx, s.chatID, false)).To(Succeed())
	g.Expect(ctl.Close(ctx, s.chatID)).To(Succeed())

	a := c.refresh(s, 2)
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(types(a.resp.Messages)).To(Equal([]string{
		gms.EventParticipantJoined, gms.EventTypingStarted, gms.EventMessage, gms.EventPushURL, gms.EventNotice,
		gms.EventParticipantLeft, gms.EventParticipantJoined, gms.EventParticipantLeft, gms.EventParticipantJoined,
		gms.EventTypingStopped, gms.EventParticipantLeft,
	}))
	g.Expect(a.resp.Messages[2].Text).To(Equal("Hello & welcome"))
	g.Expect(a.resp.Messages[3].Text).To(Equal("https://example.com/kb?a=1&b=2"))
	g.Expect(a.resp.Messages[4].Text).To(Equal("wait"))
	g.Expect(a.resp.Messages[6].From.Nickname).To(Equal("Bob"))

	chat, err = ctl.Chat(ctx, s.chatID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(chat.Ended).To(BeTrue())
	inProcess, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Transcript).To(Equal(inProcess.Transcript), "the same transcript as in process")
	g.Expect(chat.LastRequest.Equal(inProcess.LastRequest)).To(BeTrue())
}

func TestControlClientRefusals(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	ctx := t.Context()
	ctl := NewControlClient(c.srv.URL, nil)
	s, _ := c.requestChat(nil)

	refusal := func(err error) *ControlError {
		ce, ok := errors.AsType[*ControlError](err)
		g.Expect(ok).To(BeTrue(), "want a *ControlError, got %v", err)
		g.Expect(ce.Detail).NotTo(BeEmpty())
		g.Expect(ce.Error()).To(ContainSubstring(ce.Path))
		return ce
	}
	g.Expect(refusal(ctl.Message(ctx, s.chatID, "nobody here"))).To(HaveField("Status", http.StatusConflict))
	_, err := ctl.Chat(ctx, "nope")
	g.Expect(refusal(err)).To(HaveField("Status", http.StatusNotFound))
	g.Expect(refusal(ctl.Join(ctx, "no/pe", Agent{Nickname: "x"}))).To(SatisfyAll(
		HaveField("Status", http.StatusNotFound), HaveField("Path", "/sim/chats/no%2Fpe/join")))
	g.Expect(ctl.Close(ctx, s.chatID)).To(Succeed())
	ce := refusal(ctl.Message(ctx, s.chatID, "late"))
	g.Expect(ce.Status).To(Equal(http.StatusConflict))
	g.Expect(ce.Detail).To(ContainSubstring(ErrChatEnded.Error()))
	_, err = ctl.Inject(ctx, Fault{Kind: "bogus"})
	g.Expect(refusal(err)).To(HaveField("Status", http.StatusBadRequest))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g.Expect(ctl.Leave(cctx, s.chatID)).To(MatchError(context.Canceled))
}

func TestControlClientFaultsAndRequests(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	ctx := t.Context()
	ctl := NewControlClient(c.srv.URL, c.srv.Client())
	s, _ := c.requestChat(nil)

	faults, err := ctl.Faults(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(faults).To(BeEmpty())
	delay := Fault{Kind: FaultDelay, Op: gms.OpRefresh, Times: 1, Delay: 150 * time.Millisecond}
	id, err := ctl.Inject(ctx, delay)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(id).To(Equal(1))
	status := Fault{Kind: FaultHTTPStatus, HTTPStatus: 429, ChatID: s.chatID, Op: gms.OpSend, Errors: []gms.APIError{{Code: 1, Advice: "slow down"}}}
	id, err = ctl.Inject(ctx, status)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(id).To(Equal(2))
	faults, err = ctl.Faults(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(faults).To(Equal([]ActiveFault{{ID: 1, Fault: delay, Left: 1}, {ID: 2, Fault: status}}))
	raw, err := faults[0].MarshalJSON()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(raw)).To(MatchJSON(`{"id":1,"kind":"delay","delay":"150ms","op":"refresh","times":1,"left":1}`))

	begin := time.Now()
	c.refresh(s, 2)
	g.Expect(time.Since(begin)).To(BeNumerically(">=", 150*time.Millisecond), "the injected delay applies")
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(http.StatusTooManyRequests))
	g.Expect(ctl.ClearFaults(ctx)).To(Succeed())
	g.Expect(ctl.Faults(ctx)).To(BeEmpty())

	reqs, err := ctl.Requests(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(reqs).To(HaveLen(3))
	g.Expect(reqs[1].Op).To(Equal(gms.OpRefresh))
	g.Expect(reqs[1].ChatID).To(Equal(s.chatID))
	g.Expect(reqs[1].Form.Get(gms.ParamSecureKey)).To(Equal("<redacted>"))
	g.Expect(reqs[2].Fault).To(Equal(FaultHTTPStatus))
	g.Expect(ctl.ResetRequests(ctx)).To(Succeed())
	g.Expect(ctl.Requests(ctx)).To(BeEmpty())
}
