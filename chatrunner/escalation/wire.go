package escalation

import (
	"time"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// The request and answer bodies are api/escalation's types, the ones a bot in Go uses, so
// the wire has one definition; this file maps them to and from the engine's types.

// escalationOf is the engine's escalation of a request.
func escalationOf(r *api.Request) chat.Escalation {
	return chat.Escalation{
		ConversationID: r.ConversationID,
		Domain:         r.Domain,
		Queue:          r.Queue,
		User: chat.User{
			FirstName:             r.User.FirstName,
			LastName:              r.User.LastName,
			Name:                  r.User.Name,
			Email:                 r.User.Email,
			TimeZoneOffsetMinutes: r.User.TimeZoneOffsetMinutes,
		},
		Subject:    r.Subject,
		Attributes: r.Attributes,
		Locale:     r.Locale,
	}
}

// chatOf is a chat as the API shows it.
func chatOf(v chat.View) api.Chat {
	r := api.Chat{
		ID:             v.ID,
		ConversationID: v.ConversationID,
		GenesysChatID:  v.GenesysChatID,
		State:          api.ChatState(v.State),
		RequestTime:    timePtr(v.RequestTime),
		ConnectTime:    timePtr(v.ConnectTime),
		EndTime:        timePtr(v.EndTime),
		EndReason:      api.EndReason(v.EndReason),
		LastError:      v.LastError,
	}
	if v.Agent.Name != "" {
		r.Agent = &api.Agent{Name: v.Agent.Name, Email: v.Agent.Email}
	}
	return r
}

// eventsOf are the engine's events as the API shows them; never nil, so that a page
// without events says "events": [].
func eventsOf(evs []chat.Event) []api.Event {
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		out[i] = api.Event{
			Seq:         e.Seq,
			Kind:        api.EventKind(e.Kind),
			Time:        e.Time,
			Agent:       e.Agent,
			Text:        e.Text,
			MessageType: e.MessageType,
			URL:         e.URL,
			Data:        e.Data,
			Canned:      string(e.Canned),
			Reason:      api.EndReason(e.Reason),
			Error:       e.Error,
			File:        e.File,
		}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
