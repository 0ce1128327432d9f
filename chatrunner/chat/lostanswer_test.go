package chat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// TestAMessageWhoseAnswerIsLostReachesTheAgentOnce: Send answers lost after Genesys took
// the message (the connection closed, as a proxy's timeout would) and lost before it did
// (a reset), one after another: each user message reaches the agent exactly once and the
// bot is told it was delivered.
func TestAMessageWhoseAnswerIsLostReachesTheAgentOnce(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-lost-answers")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())

	faults := []gmssim.FaultKind{gmssim.FaultLostAnswer, gmssim.FaultReset, gmssim.FaultLostAnswer, gmssim.FaultLostAnswer, gmssim.FaultReset}
	var sent []string
	for i, kind := range faults {
		h.sim.Inject(gmssim.Fault{Kind: kind, Op: gms.OpSend, ChatID: gid, Times: 1})
		text := fmt.Sprintf("message %d (%s)", i+1, kind)
		h.Expect(h.m.SendMessage(context.Background(), id, text, "text", "")).To(Succeed(), "the bot is told it was delivered")
		sent = append(sent, text)
	}
	var got []string
	for _, e := range h.clientEvents(gid) {
		if e.Type == gms.EventMessage {
			got = append(got, e.Text)
		}
	}
	h.Expect(got).To(Equal(sent), "every message once, in order")
}

// heldSend starts a connected chat, holds its next Send Message on the simulator for
// hold (an hour: until the client's attempt timeout ends it, unanswered and not carried
// out), and sends text (with clientMessageID) in the background; it returns once that
// send reached the simulator, with the chat's ids and the send's outcome to come.
func (h *harness) heldSend(conversation string, hold time.Duration, text, clientMessageID string) (id, gid string, outcome <-chan error) {
	h.t.Helper()
	id, gid = h.escalate(conversation)
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.sim.ResetRequests()
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultDelay, Delay: hold, Op: gms.OpSend, ChatID: gid, Times: 1})
	done := make(chan error, 1)
	go func() { done <- h.m.SendMessage(context.Background(), id, text, "text", clientMessageID) }()
	h.Eventually(func() int { return h.count(gid, gms.OpSend) }).ShouldNot(BeZero(), "the send reached the simulator")
	return id, gid, done
}

// clientMessages returns the texts of the user's messages in the simulator's transcript.
func (h *harness) clientMessages(gid string) []string {
	var got []string
	for _, e := range h.clientEvents(gid) {
		if e.Type == gms.EventMessage {
			got = append(got, e.Text)
		}
	}
	return got
}

// TestAMessageWhoseAnswerIsLostIsNotTakenForAnotherWithTheSameText: a message's send times
// out (Genesys never took it) while the bot sends a second message with the same text; the
// second reaches Genesys first. Looking for the first in the transcript must not find the
// second: both reach the agent.
func TestAMessageWhoseAnswerIsLostIsNotTakenForAnotherWithTheSameText(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	// The first send's answer is lost, and it is not in the transcript.
	id, gid, first := h.heldSend("conv-same-text", time.Hour, "yes", "")
	h.Expect(h.m.SendMessage(context.Background(), id, "yes", "text", "")).To(Succeed())
	h.Eventually(first, 10*time.Second).Should(Receive(BeNil()), "the first message is delivered")

	h.Expect(h.clientMessages(gid)).To(Equal([]string{"yes", "yes"}), "both messages reached the agent")
}

// TestARetriedMessageStillOnItsWayIsSentOnce: the bot retries a message (same client
// message id) while the first try is still on its way to Genesys: the retry waits for it,
// and the message reaches the agent once.
func TestARetriedMessageStillOnItsWayIsSentOnce(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid, first := h.heldSend("conv-retry-in-flight", 300*time.Millisecond, "my bill is wrong", "m-1")
	h.Expect(h.m.SendMessage(context.Background(), id, "my bill is wrong", "text", "m-1")).To(Succeed(), "the retry succeeds")
	h.Eventually(first).Should(Receive(BeNil()))

	h.Expect(h.clientMessages(gid)).To(Equal([]string{"my bill is wrong"}), "the message reached the agent once")
}

// TestAMessageWaitingForItsTurnGivesUpWithTheBot: a message waiting for the chat's
// previous one ends at once, unsent, when the bot's request does; the previous one goes on.
func TestAMessageWaitingForItsTurnGivesUpWithTheBot(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	// Held until the client's attempt timeout, then found missing and sent again.
	id, gid, first := h.heldSend("conv-give-up", time.Hour, "first", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.Expect(h.m.SendMessage(ctx, id, "second", "text", "")).To(MatchError(context.Canceled))
	h.Expect(first).NotTo(Receive(), "the second gave up without waiting for the first")
	h.Eventually(first, 10*time.Second).Should(Receive(BeNil()))

	h.Expect(h.clientMessages(gid)).To(Equal([]string{"first"}), "the abandoned message was not sent")
}
