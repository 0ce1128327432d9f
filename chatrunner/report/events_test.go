package report

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

func TestEventsRecordEachTransitionButWaiting(t *testing.T) {
	g := NewWithT(t)
	rec := events.NewFakeRecorder(10)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "acme"}}
	e := NewEvents(rec, gw)
	var _ chat.Observer = e

	base := chat.Transition{ChatID: "c-123", ConversationID: "abc"}
	with := func(f func(*chat.Transition)) chat.Transition {
		t := base
		f(&t)
		return t
	}
	for _, tc := range []struct {
		t    chat.Transition
		want string
	}{
		{with(func(t *chat.Transition) { t.To = chatv1alpha1.ChatRequesting }),
			"Normal ChatRequested Chat c-123 (conversation abc): requested an agent"},
		{with(func(t *chat.Transition) { t.To = chatv1alpha1.ChatWaitingForAgent; t.GenesysChatID = "0001" }), ""},
		{with(func(t *chat.Transition) {
			t.To = chatv1alpha1.ChatConnected
			t.GenesysChatID = "0001"
			t.Agent = "Alice"
		}),
			"Normal AgentJoined Chat c-123 (conversation abc, Genesys chat 0001): agent Alice joined"},
		{with(func(t *chat.Transition) { t.To = chatv1alpha1.ChatEnded; t.Reason = chatv1alpha1.EndUserClosed }),
			"Normal ChatEnded Chat c-123 (conversation abc): ended (UserClosed)"},
		{with(func(t *chat.Transition) {
			t.To = chatv1alpha1.ChatTransferred
			t.Reason = chatv1alpha1.EndGenesysError
			t.Error = "refresh: status 2"
		}), "Normal ChatTransferred Chat c-123 (conversation abc): handed back to the bot (GenesysError): refresh: status 2"},
		{with(func(t *chat.Transition) {
			t.To = chatv1alpha1.ChatFailed
			t.Reason = chatv1alpha1.EndGenesysError
			t.Error = "dial tcp: connection refused"
		}), "Warning ChatFailed Chat c-123 (conversation abc): failed (GenesysError): dial tcp: connection refused"},
		{chat.Transition{ChatID: "c-9", To: chatv1alpha1.ChatConnected}, "Normal AgentJoined Chat c-9: agent (unnamed) joined"},
	} {
		e.Transitioned(tc.t)
		if tc.want == "" {
			g.Expect(rec.Events).To(BeEmpty(), "no event for %s", tc.t.To)
			continue
		}
		g.Expect(rec.Events).To(Receive(Equal(tc.want)))
	}
}

func TestEventsKeepNotesWithinTheLimit(t *testing.T) {
	g := NewWithT(t)
	rec := events.NewFakeRecorder(1)
	NewEvents(rec, &chatv1alpha1.GenesysGateway{}).Transitioned(chat.Transition{
		ChatID: "c-1", To: chatv1alpha1.ChatFailed, Error: strings.Repeat("x", 5000),
	})
	var got string
	g.Expect(rec.Events).To(Receive(&got))
	note := strings.TrimPrefix(got, "Warning ChatFailed ")
	g.Expect(note).To(HavePrefix("Chat c-1: failed: xxx"))
	g.Expect(len(note)).To(BeNumerically("<=", text.NoteLimit))
}
