package escalation_test

import (
	"testing"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// The bot's package types chat states and end reasons itself, so that a bot imports no
// Kubernetes API; the server converts the gateway API's values by name. This test keeps
// the two lists one list: a state or reason added to one and not the other fails here.
func TestBotContractNamesTheGatewayAPIsStatesAndReasons(t *testing.T) {
	g := NewWithT(t)
	g.Expect([]api.ChatState{
		api.ChatState(chatv1alpha1.ChatRequesting), api.ChatState(chatv1alpha1.ChatWaitingForAgent),
		api.ChatState(chatv1alpha1.ChatConnected), api.ChatState(chatv1alpha1.ChatEnded),
		api.ChatState(chatv1alpha1.ChatTransferred), api.ChatState(chatv1alpha1.ChatFailed),
	}).To(Equal([]api.ChatState{
		api.ChatRequesting, api.ChatWaitingForAgent, api.ChatConnected, api.ChatEnded, api.ChatTransferred, api.ChatFailed,
	}))
	g.Expect([]api.EndReason{
		api.EndReason(chatv1alpha1.EndAgentClosed), api.EndReason(chatv1alpha1.EndUserClosed),
		api.EndReason(chatv1alpha1.EndGenesysError), api.EndReason(chatv1alpha1.EndEscalationTimeout),
		api.EndReason(chatv1alpha1.EndIdleTimeout),
	}).To(Equal([]api.EndReason{
		api.EndAgentClosed, api.EndUserClosed, api.EndGenesysError, api.EndEscalationTimeout, api.EndIdleTimeout,
	}))
}

// The engine's event kinds are the bot's, one for one: a kind added to the engine and not
// to the bot's package (or spelled differently) fails here.
func TestBotContractNamesTheEnginesEventKinds(t *testing.T) {
	g := NewWithT(t)
	g.Expect([]api.EventKind{
		chat.KindAgentJoined, chat.KindAgentLeft, chat.KindMessage, chat.KindTypingStarted, chat.KindTypingStopped,
		chat.KindPushURL, chat.KindNotice, chat.KindIdleAlert, chat.KindIdleClose, chat.KindEnded, chat.KindTransferred, chat.KindFailed,
	}).To(Equal([]api.EventKind{
		api.EventAgentJoined, api.EventAgentLeft, api.EventMessage, api.EventTypingStarted, api.EventTypingStopped,
		api.EventPushURL, api.EventNotice, api.EventIdleAlert, api.EventIdleClose, api.EventEnded, api.EventTransferred, api.EventFailed,
	}))
}
