package chat_test

import (
	"context"
	"fmt"
	"testing"

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
