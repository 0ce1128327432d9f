package report

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// Reasons of the events a runner records on its gateway.
const (
	// ReasonChatRequested: the runner requested a chat on Genesys.
	ReasonChatRequested = "ChatRequested"
	// ReasonAgentJoined: an agent joined a chat.
	ReasonAgentJoined = "AgentJoined"
	// ReasonChatEnded: a chat ended.
	ReasonChatEnded = "ChatEnded"
	// ReasonChatTransferred: a chat's conversation went back to the bot.
	ReasonChatTransferred = "ChatTransferred"
	// ReasonChatFailed: a chat failed (Warning).
	ReasonChatFailed = "ChatFailed"
	// ReasonWebhookFailing: deliveries to spec.runner.webhook started failing (Warning,
	// once per outage).
	ReasonWebhookFailing = "WebhookFailing"
	// ReasonChatsAdopted: a runner took over the chats of another runner's store (one
	// that stopped, crashed, lost its node or was removed by a scale-down).
	ReasonChatsAdopted = "ChatsAdopted"
)

// Events records chat transitions as events on the gateway. It implements chat.Observer;
// it never blocks, as long as its recorder does not (the events.k8s.io one does not).
type Events struct {
	rec     events.EventRecorder
	gateway runtime.Object
}

var _ chat.Observer = (*Events)(nil)

// NewEvents returns an observer recording on the gateway through rec.
func NewEvents(rec events.EventRecorder, gateway runtime.Object) *Events {
	return &Events{rec: rec, gateway: gateway}
}

// Transitioned records an event for a chat that was requested, joined by an agent, ended,
// handed back to the bot or failed; none for one waiting for an agent. The note names the
// chat, its conversation and, once known, its Genesys chat id.
func (e *Events) Transitioned(t chat.Transition) {
	eventType, reason, action, what := corev1.EventTypeNormal, "", "", ""
	switch t.To {
	case chatv1alpha1.ChatRequesting:
		reason, action, what = ReasonChatRequested, "RequestChat", "requested an agent"
	case chatv1alpha1.ChatConnected:
		reason, action, what = ReasonAgentJoined, "ConnectAgent", "agent "+orUnknown(t.Agent)+" joined"
	case chatv1alpha1.ChatEnded:
		reason, action, what = ReasonChatEnded, "EndChat", "ended"+because(t)
	case chatv1alpha1.ChatTransferred:
		reason, action, what = ReasonChatTransferred, "TransferChat", "handed back to the bot"+because(t)
	case chatv1alpha1.ChatFailed:
		eventType, reason, action, what = corev1.EventTypeWarning, ReasonChatFailed, "RunChat", "failed"+because(t)
	default:
		return
	}
	e.rec.Eventf(e.gateway, nil, eventType, reason, action, "%s", text.Truncate(subject(t)+": "+what, text.NoteLimit))
}

// subject names a chat: "Chat c-1 (conversation abc, Genesys chat 0001)".
func subject(t chat.Transition) string {
	var ids []string
	if t.ConversationID != "" {
		ids = append(ids, "conversation "+t.ConversationID)
	}
	if t.GenesysChatID != "" {
		ids = append(ids, "Genesys chat "+t.GenesysChatID)
	}
	if len(ids) == 0 {
		return "Chat " + t.ChatID
	}
	return fmt.Sprintf("Chat %s (%s)", t.ChatID, strings.Join(ids, ", "))
}

// because says why a chat ended: its end reason, then its error.
func because(t chat.Transition) string {
	var s string
	if t.Reason != "" {
		s = " (" + string(t.Reason) + ")"
	}
	if t.Error != "" {
		s += ": " + t.Error
	}
	return s
}

func orUnknown(agent string) string {
	if agent == "" {
		return "(unnamed)"
	}
	return agent
}

// WebhookFailing records that deliveries to the webhook started failing; the runner calls
// it once per outage. The error names the URL's answer, never a secret.
func (e *Events) WebhookFailing(err error) {
	e.rec.Eventf(e.gateway, nil, corev1.EventTypeWarning, ReasonWebhookFailing, "DeliverWebhook", "%s",
		text.Truncate("Webhook deliveries are failing (retried, in order per chat): "+err.Error(), text.NoteLimit))
}

// ChatsAdopted records that this runner took over the chats of another runner's store:
// how many it resumed, and how many it could not (they failed, and their bots were told).
func (e *Events) ChatsAdopted(runner string, store, resumed, failed int) {
	eventType := corev1.EventTypeNormal
	if failed > 0 {
		eventType = corev1.EventTypeWarning
	}
	e.rec.Eventf(e.gateway, nil, eventType, ReasonChatsAdopted, "AdoptChats", "%s",
		text.Truncate(fmt.Sprintf("Runner %s adopted the chats of runner ordinal %d: %d resumed, %d failed (asked of Genesys when their runner stopped)",
			runner, store, resumed, failed), text.NoteLimit))
}
