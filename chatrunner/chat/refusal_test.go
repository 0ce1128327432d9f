package chat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// quiet makes the engine poll too rarely to interfere: user-side calls alone talk to
// Genesys, so a test decides which answer each call gets.
func quiet(s *chat.Settings) { s.PollInterval = time.Hour }

// refused returns err as a *chat.RefusedError, failing the test when it is not one.
func (h *harness) refused(err error) *chat.RefusedError {
	h.t.Helper()
	var r *chat.RefusedError
	h.Expect(errors.As(err, &r)).To(BeTrue(), "err = %v, want a *chat.RefusedError", err)
	return r
}

// count returns how many requests of op the simulator received for a chat.
func (h *harness) count(gid string, op gms.Operation) int {
	n := 0
	for _, r := range h.sim.Requests() {
		if r.Op == op && r.ChatID == gid {
			n++
		}
	}
	return n
}

func TestRefusedMessageIsAnErrorEvenWhenItEndsTheChat(t *testing.T) {
	h := newHarness(t, quiet, gmssim.Options{})
	id, gid := h.escalate("conv-refused")
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, ChatEnded: true, Times: 1})

	r := h.refused(h.m.SendMessage(context.Background(), id, "hello", "text", ""))
	h.Expect(r.Ended).To(BeTrue())
	h.Expect(r.Err.Errors).To(ContainElement(HaveField("Code", 249)))
	h.Expect(r.Error()).To(ContainSubstring("249 Media server was not able to execute request"))
	v, _ := h.m.Get(id)
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatFailed))
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndGenesysError))
	h.Expect(h.clientEvents(gid)).NotTo(ContainElement(HaveField("Type", gms.EventMessage)), "the message never reached the agent")
}

func TestRefusedTypingAndPushURLAreErrors(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { quiet(s); s.SupportPresentContent = true }, gmssim.Options{})
	id, gid := h.escalate("conv-refused-typing")
	for _, op := range []gms.Operation{gms.OpStartTyping, gms.OpPushURL} {
		h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: op, ChatID: gid, Times: 1})
	}
	h.Expect(h.refused(h.m.Typing(context.Background(), id, true)).Ended).To(BeFalse())
	h.Expect(h.refused(h.m.Present(context.Background(), id, "https://example.com/card")).Ended).To(BeFalse())
	h.Expect(h.m.Get(id)).To(HaveField("State", chatv1alpha1.ChatWaitingForAgent))
}

func TestStatus2WithoutChatEndedKeepsAChatARefreshShowsAlive(t *testing.T) {
	h := newHarness(t, quiet, gmssim.Options{})
	id, gid := h.escalate("conv-alive")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, Times: 1})
	refreshes := h.count(gid, gms.OpRefresh)

	r := h.refused(h.m.SendMessage(context.Background(), id, "hello", "text", ""))
	h.Expect(r.Ended).To(BeFalse())
	h.Expect(h.count(gid, gms.OpRefresh)).To(Equal(refreshes+1), "a Refresh confirmed the chat")
	// The confirming Refresh brought the agent's join, and the chat goes on.
	v, _ := h.m.Get(id)
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatConnected))
	h.Expect(h.count(gid, gms.OpDisconnect)).To(BeZero())
	h.Expect(h.m.SendMessage(context.Background(), id, "hello again", "text", "")).To(Succeed())
}

func TestStatus2WithoutChatEndedEndsAChatARefreshShowsOver(t *testing.T) {
	h := newHarness(t, quiet, gmssim.Options{})
	id, gid := h.escalate("conv-over")
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, Times: 1})
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpRefresh, ChatID: gid, Times: 1,
		Errors: []gms.APIError{{Code: 8201, Advice: "no such user"}}})

	r := h.refused(h.m.SendMessage(context.Background(), id, "hello", "text", ""))
	h.Expect(r.Ended).To(BeTrue())
	v, _ := h.m.Get(id)
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatFailed))
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndGenesysError))
	h.Expect(v.LastError).To(ContainSubstring("249"))
	// Disconnected on a best-effort basis.
	h.Eventually(func() bool { c, _ := h.sim.Chat(gid); return c.Ended }).Should(BeTrue())
	h.Expect(h.count(gid, gms.OpDisconnect)).To(Equal(1))
}

func TestPollStatus2WithoutChatEndedIsConfirmed(t *testing.T) {
	t.Run("alive", func(t *testing.T) {
		h := newHarness(t, nil, gmssim.Options{})
		id, gid := h.escalate("conv-poll-alive")
		h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpRefresh, ChatID: gid, Times: 1})
		h.Eventually(func() int {
			n := 0
			for _, r := range h.sim.Requests() {
				if r.ChatID == gid && r.Fault == gmssim.FaultStatus2 {
					n++
				}
			}
			return n
		}).Should(Equal(1))
		h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		h.waitState(id, chatv1alpha1.ChatConnected)
		h.Expect(h.count(gid, gms.OpDisconnect)).To(BeZero())
	})
	t.Run("over", func(t *testing.T) {
		h := newHarness(t, nil, gmssim.Options{})
		id, gid := h.escalate("conv-poll-over")
		h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpRefresh, ChatID: gid})
		v := h.waitState(id, chatv1alpha1.ChatFailed)
		h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndGenesysError))
		h.Expect(v.LastError).To(ContainSubstring("249"))
		h.Eventually(func() bool { c, _ := h.sim.Chat(gid); return c.Ended }).Should(BeTrue())
	})
}

func TestStatus2WithoutChatEndedEndsAsARefreshTellsIt(t *testing.T) {
	h := newHarness(t, quiet, gmssim.Options{})
	id, gid := h.escalate("conv-closed")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.Expect(h.sim.Close(gid)).To(Succeed())
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, Times: 1})

	h.Expect(h.refused(h.m.SendMessage(context.Background(), id, "hello", "text", "")).Ended).To(BeTrue())
	v, _ := h.m.Get(id)
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatEnded))
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndAgentClosed), "the Refresh said the agent closed")
	h.Eventually(func() int { return h.count(gid, gms.OpDisconnect) }).Should(Equal(1), "disconnected, best-effort")
}
