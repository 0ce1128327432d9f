package chat_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// Genesys' idle warning reaches the bot in the gateway's locale; a reply keeps the chat,
// and staying quiet after the next warning ends it IdleTimeout, said once.
func TestIdleAlertWarnsThenIdleCloseEnds(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.Locale = "de-DE" },
		gmssim.Options{InactivityAlert: 200 * time.Millisecond, InactivityClose: time.Second})
	id, gid := h.escalate("conv-quiet")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())

	alert := h.waitEvent(id, chat.KindIdleAlert)
	h.Expect(alert.Canned).To(Equal(chat.CannedIdleAlert))
	h.Expect(alert.Text).To(Equal("Sind Sie noch da? Diese Unterhaltung wird bald beendet, wenn Sie nicht antworten."))
	h.Expect(h.m.SendMessage(context.Background(), id, "Ja, noch da", "text", "")).To(Succeed())

	v := h.waitState(id, chatv1alpha1.ChatEnded)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndIdleTimeout))
	var kinds []string
	for _, e := range h.events(id) {
		kinds = append(kinds, e.Kind)
	}
	h.Expect(kinds).To(Equal([]string{
		chat.KindNotice, chat.KindAgentJoined, chat.KindNotice, // waiting, joined
		chat.KindIdleAlert, chat.KindIdleAlert, chat.KindIdleClose, chat.KindEnded,
	}), "the reply restarted the control; no ConversationClosed notice repeats the close")
	closing := h.waitEvent(id, chat.KindIdleClose)
	h.Expect(closing.Canned).To(Equal(chat.CannedIdleClose))
	h.Expect(closing.Text).To(Equal("Diese Unterhaltung wurde wegen Inaktivität beendet."))
}
