package escalation

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// Bounds of request fields.
const (
	maxIDLength        = 256
	maxNameLength      = 256
	maxEmailLength     = 320
	maxSubjectLength   = 1024
	maxAttributes      = 64
	maxAttributeKey    = 128
	maxAttributeValue  = 4096
	maxLocaleLength    = 35
	maxMessageLength   = 8192
	maxTypeLength      = 64
	maxURLLength       = 2048
	maxTitleLength     = 256
	maxTimeZoneMinutes = 14 * 60
)

// escalationRequest is the body of POST /v1/chats.
type escalationRequest struct {
	ConversationID string            `json:"conversationId"`
	Domain         string            `json:"domain"`
	Queue          string            `json:"queue,omitempty"`
	User           userRequest       `json:"user"`
	Subject        string            `json:"subject,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	Locale         string            `json:"locale,omitempty"`
}

type userRequest struct {
	FirstName             string `json:"firstName,omitempty"`
	LastName              string `json:"lastName,omitempty"`
	Name                  string `json:"name,omitempty"`
	Email                 string `json:"email,omitempty"`
	TimeZoneOffsetMinutes *int   `json:"timeZoneOffsetMinutes,omitempty"`
}

// fieldError is a request field that breaks a bound.
type fieldError struct{ field, detail string }

// check returns the first field breaking a rule, or nil.
func check(rules ...*fieldError) *fieldError {
	for _, r := range rules {
		if r != nil {
			return r
		}
	}
	return nil
}

// required refuses an empty string.
func required(field, v string) *fieldError {
	if strings.TrimSpace(v) == "" {
		return &fieldError{field, "is required"}
	}
	return nil
}

// bounded refuses a string longer than max characters or not UTF-8.
func bounded(field, v string, max int) *fieldError {
	if !utf8.ValidString(v) {
		return &fieldError{field, "must be UTF-8 text"}
	}
	if n := utf8.RuneCountInString(v); n > max {
		return &fieldError{field, "must be at most " + itoa(max) + " characters"}
	}
	return nil
}

func (e *escalationRequest) validate() *fieldError {
	u := e.User
	if err := check(
		required("conversationId", e.ConversationID),
		bounded("conversationId", e.ConversationID, maxIDLength),
		required("domain", e.Domain),
		bounded("domain", e.Domain, maxNameLength),
		bounded("queue", e.Queue, maxNameLength),
		bounded("user.firstName", u.FirstName, maxNameLength),
		bounded("user.lastName", u.LastName, maxNameLength),
		bounded("user.name", u.Name, maxNameLength),
		bounded("user.email", u.Email, maxEmailLength),
		bounded("subject", e.Subject, maxSubjectLength),
		bounded("locale", e.Locale, maxLocaleLength),
	); err != nil {
		return err
	}
	if tz := u.TimeZoneOffsetMinutes; tz != nil && (*tz < -maxTimeZoneMinutes || *tz > maxTimeZoneMinutes) {
		return &fieldError{"user.timeZoneOffsetMinutes", "must be between -840 and 840"}
	}
	if len(e.Attributes) > maxAttributes {
		return &fieldError{"attributes", "must have at most " + itoa(maxAttributes) + " entries"}
	}
	for k, v := range e.Attributes {
		if k == "" || strings.ContainsAny(k, "[]") {
			return &fieldError{"attributes", "keys must be non-empty and without brackets"}
		}
		if err := check(bounded("attributes", k, maxAttributeKey), bounded("attributes."+k, v, maxAttributeValue)); err != nil {
			return err
		}
	}
	return nil
}

func (e *escalationRequest) escalation() chat.Escalation {
	return chat.Escalation{
		ConversationID: e.ConversationID,
		Domain:         e.Domain,
		Queue:          e.Queue,
		User: chat.User{
			FirstName:             e.User.FirstName,
			LastName:              e.User.LastName,
			Name:                  e.User.Name,
			Email:                 e.User.Email,
			TimeZoneOffsetMinutes: e.User.TimeZoneOffsetMinutes,
		},
		Subject:    e.Subject,
		Attributes: e.Attributes,
		Locale:     e.Locale,
	}
}

// messageRequest is the body of POST /v1/chats/{id}/messages.
type messageRequest struct {
	Text string `json:"text"`
	Type string `json:"type,omitempty"`
}

func (m *messageRequest) validate() *fieldError {
	return check(required("text", m.Text), bounded("text", m.Text, maxMessageLength), bounded("type", m.Type, maxTypeLength))
}

// typingRequest is the body of POST /v1/chats/{id}/typing.
type typingRequest struct {
	Typing *bool `json:"typing"`
}

func (t *typingRequest) validate() *fieldError {
	if t.Typing == nil {
		return &fieldError{"typing", "is required (true or false)"}
	}
	return nil
}

// presentRequest is the body of POST /v1/chats/{id}/present.
type presentRequest struct {
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

func (p *presentRequest) validate() *fieldError {
	if err := check(required("url", p.URL), bounded("url", p.URL, maxURLLength), bounded("title", p.Title, maxTitleLength)); err != nil {
		return err
	}
	if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &fieldError{"url", "must be an absolute http or https URL"}
	}
	return nil
}

// chatResponse is a chat as the API shows it.
type chatResponse struct {
	ID             string                     `json:"id"`
	ConversationID string                     `json:"conversationId"`
	GenesysChatID  string                     `json:"genesysChatId,omitempty"`
	State          chatv1alpha1.ChatState     `json:"state"`
	Agent          *agentResponse             `json:"agent,omitempty"`
	RequestTime    *time.Time                 `json:"requestTime,omitempty"`
	ConnectTime    *time.Time                 `json:"connectTime,omitempty"`
	EndTime        *time.Time                 `json:"endTime,omitempty"`
	EndReason      chatv1alpha1.ChatEndReason `json:"endReason,omitempty"`
	LastError      string                     `json:"lastError,omitempty"`
}

type agentResponse struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

func chatOf(v chat.View) chatResponse {
	r := chatResponse{
		ID:             v.ID,
		ConversationID: v.ConversationID,
		GenesysChatID:  v.GenesysChatID,
		State:          v.State,
		RequestTime:    timePtr(v.RequestTime),
		ConnectTime:    timePtr(v.ConnectTime),
		EndTime:        timePtr(v.EndTime),
		EndReason:      v.EndReason,
		LastError:      v.LastError,
	}
	if v.Agent.Name != "" {
		r.Agent = &agentResponse{Name: v.Agent.Name, Email: v.Agent.Email}
	}
	return r
}

// eventsResponse is the answer of GET /v1/chats/{id}/events.
type eventsResponse struct {
	ChatID string       `json:"chatId"`
	Events []chat.Event `json:"events"`
	// Next is the seq to pass as after next time.
	Next int64 `json:"next"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
