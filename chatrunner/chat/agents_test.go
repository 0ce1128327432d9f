package chat_test

import (
	"testing"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

func TestAgentNameFollowsAgentOverride(t *testing.T) {
	directory, err := chat.ParseDirectory("Alice.Smith@Example.com: Alice S.\nbob@example.com: Robert\n")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		name     string
		override chatv1alpha1.AgentOverride
		custom   string
		agent    gmssim.Agent
		want     string
	}{
		{"none shows a generic name", chatv1alpha1.AgentOverrideNone, "", gmssim.Agent{Nickname: "Alice"}, "Agent"},
		{"none shows the custom agent", chatv1alpha1.AgentOverrideNone, "Acme Support", gmssim.Agent{Nickname: "Alice"}, "Acme Support"},
		{"name only shows the nickname", chatv1alpha1.AgentOverrideAgentNameOnly, "Acme Support", gmssim.Agent{Nickname: "Alice"}, "Alice"},
		{"lookup by e-mail, any case", chatv1alpha1.AgentOverrideLookupAgentByEmail, "", gmssim.Agent{Nickname: "asmith", Email: "alice.smith@example.COM"}, "Alice S."},
		{"lookup miss keeps the nickname", chatv1alpha1.AgentOverrideLookupAgentByEmail, "", gmssim.Agent{Nickname: "carol", Email: "carol@example.com"}, "carol"},
		{"no identity shows the custom agent", chatv1alpha1.AgentOverrideAgentNameOnly, "Acme Support", gmssim.Agent{Nickname: " "}, "Acme Support"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(s *chat.Settings) {
				s.AgentOverride, s.CustomAgentName, s.Directory = tc.override, tc.custom, directory
			}, gmssim.Options{})
			id, gid := h.escalate("conv")
			h.Expect(h.sim.AgentJoin(gid, tc.agent)).To(Succeed())
			v := h.waitState(id, chatv1alpha1.ChatConnected)
			h.Expect(v.Agent.Name).To(Equal(tc.want))
			h.Expect(h.sim.AgentMessage(gid, "hello")).To(Succeed())
			h.Expect(h.waitEvent(id, chat.KindMessage).Agent).To(Equal(tc.want))
		})
	}
}

func TestCannedMessagesFollowTheLocale(t *testing.T) {
	g := NewWithT(t)
	for locale, want := range map[string]string{
		"en-US": "This conversation has been closed.",
		"de-DE": "Diese Unterhaltung wurde beendet.",
		"de-at": "Diese Unterhaltung wurde beendet.", // the language's catalogue
		"FR-fr": "Cette conversation est terminée.",
		"ja-JP": "This conversation has been closed.", // en-US, the fallback
		"":      "This conversation has been closed.",
	} {
		s := chat.Settings{Locale: locale}
		g.Expect(s.Canned(chat.CannedConversationClosed, "")).To(Equal(want), locale)
	}
	s := chat.Settings{Locale: "de-DE", CannedOverrides: map[chatv1alpha1.CannedMessageKey]string{chat.CannedAgentJoined: "Hallo, hier ist {agent}!"}}
	g.Expect(s.Canned(chat.CannedAgentJoined, "Alice")).To(Equal("Hallo, hier ist Alice!"))
	g.Expect(s.Canned(chat.CannedWaitingForAgent, "")).To(HavePrefix("Bitte warten"))
}

func TestParseDirectoryRefusesNonMaps(t *testing.T) {
	_, err := chat.ParseDirectory("- a\n- b\n")
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("agent directory")))
}
