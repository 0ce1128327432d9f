package chat

import (
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Transition is a chat's move from one state to another, as reported to the gateway's
// events and metrics. It never holds the Genesys secure key.
type Transition struct {
	// ChatID is the runner's chat id.
	ChatID string
	// ConversationID is the bot's conversation id.
	ConversationID string
	// GenesysChatID is the chat's id on Genesys, once known.
	GenesysChatID string
	// From is the state before; empty for a new chat.
	From chatv1alpha1.ChatState
	// To is the state after.
	To chatv1alpha1.ChatState
	// Reason says why a chat ended, transferred or failed.
	Reason chatv1alpha1.ChatEndReason
	// Agent is the agent's display name, when one joined.
	Agent string
	// Error is what went wrong, for Failed (and Transferred after an error).
	Error string
	// RequestTime is when the bot escalated the chat (the runner's clock).
	RequestTime time.Time
	// ConnectTime is when an agent joined (Genesys' time of the join); zero before.
	ConnectTime time.Time
	// EndTime is when the chat ended, transferred or failed; zero while it is live.
	EndTime time.Time
}

// Observer learns of chat transitions. Calls come from the chat's own goroutine and must
// not block.
type Observer interface {
	Transitioned(Transition)
}
