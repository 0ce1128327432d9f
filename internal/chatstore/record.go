package chatstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// RecordVersion is the version of the record format this code writes and reads.
const RecordVersion = 1

// Bounds of a record's fields. Encode refuses a record beyond them, and every field at its
// bound still fits MaxRecordBytes (TestRecordAtEveryBoundFits).
const (
	// MaxConversationIDBytes is the escalation API's bound on a conversation id.
	MaxConversationIDBytes = escalation.MaxConversationIDLength
	// MaxSessionFieldBytes bounds Genesys' chat id, user id, secure key and alias.
	MaxSessionFieldBytes = 128
	// MaxAgentBytes bounds the agent's display name and e-mail.
	MaxAgentBytes = 320
	// MaxErrorBytes bounds the last error kept with a chat.
	MaxErrorBytes = 256
	// MaxClientMessages is how many of the bot's most recent client message ids a chat
	// remembers, so a retried message is not sent twice.
	MaxClientMessages = escalation.MaxClientMessages
	// MaxClientMessageIDBytes bounds one client message id.
	MaxClientMessageIDBytes = escalation.MaxClientMessageIDLength
)

// Record is what resuming a chat needs, written by the chat's owner. Events are not
// stored: the new owner re-reads the whole transcript from Genesys and derives them again,
// with the same seq and content; NextSeq and TranscriptPosition say where the previous
// owner was, so a seam can be detected.
type Record struct {
	// Version is RecordVersion.
	Version int `json:"v"`
	// ID is the chat's id on the escalation API.
	ID string `json:"id"`
	// ConversationID is the bot's id of the conversation.
	ConversationID string `json:"conversationId"`
	// Session is the chat's Genesys session; empty while the chat is being requested.
	Session Session `json:"session,omitzero"`
	// State is the chat's state.
	State chatv1alpha1.ChatState `json:"state"`
	// Agent is the agent's display name, AgentEmail their e-mail.
	Agent      string `json:"agent,omitempty"`
	AgentEmail string `json:"agentEmail,omitempty"`
	// RequestTime, WaitingTime and ConnectTime are Unix milliseconds: the escalation, the
	// answer to Request Chat, the first agent.
	RequestTime int64 `json:"requestTime"`
	WaitingTime int64 `json:"waitingTime,omitempty"`
	ConnectTime int64 `json:"connectTime,omitempty"`
	// TranscriptPosition is the next transcript position the owner would have read.
	TranscriptPosition int `json:"transcriptPosition,omitempty"`
	// NextSeq is the seq the chat's next event would have had.
	NextSeq int64 `json:"nextSeq"`
	// WebhookDelivered is the highest seq the webhook receiver acknowledged.
	WebhookDelivered int64 `json:"webhookDelivered,omitempty"`
	// ClientMessages are the bot's most recent client message ids, oldest first.
	ClientMessages []string `json:"clientMessages,omitempty"`
	// LastError is the chat's last error, clamped to MaxErrorBytes.
	LastError string `json:"lastError,omitempty"`
}

// Session is a chat's Genesys session. SecureKey is a secret: it is written only into the
// store's Secrets and never logged.
type Session struct {
	ChatID    string `json:"chatId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	SecureKey string `json:"secureKey,omitempty"`
	Alias     string `json:"alias,omitempty"`
}

// Errors of Encode and Decode. They never quote a field's value: a record holds a secure key.
var (
	ErrTooLarge = errors.New("chat record exceeds its size bound")
	ErrVersion  = errors.New("chat record has an unknown version")
)

// Encode returns a record's JSON, or an error naming the field beyond its bound. Fields
// within their bounds can still escape beyond MaxRecordBytes (control characters take six
// bytes in JSON): that is ErrTooLarge too, and the caller shortens what it may (the agent,
// the error, the client message ids) or refuses the chat.
func Encode(r Record) ([]byte, error) {
	r.Version = RecordVersion
	if err := r.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // '<' as one byte, not six
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding chat record: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

// Decode parses a record written by Encode; its cost is bounded by MaxRecordBytes. A record
// of another version, beyond a bound or not JSON is an error: the caller reports it and
// goes on with the other chats.
func Decode(b []byte) (Record, error) {
	if len(b) > MaxRecordBytes {
		return Record{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decoding chat record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("decoding chat record: trailing data")
	}
	if r.Version != RecordVersion {
		return Record{}, fmt.Errorf("%w: %d", ErrVersion, r.Version)
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// check verifies every bound, naming the field but never its value.
func (r *Record) check() error {
	fields := []struct {
		name  string
		value string
		max   int
	}{
		{"id", r.ID, MaxIDBytes},
		{"conversationId", r.ConversationID, MaxConversationIDBytes},
		{"session.chatId", r.Session.ChatID, MaxSessionFieldBytes},
		{"session.userId", r.Session.UserID, MaxSessionFieldBytes},
		{"session.secureKey", r.Session.SecureKey, MaxSessionFieldBytes},
		{"session.alias", r.Session.Alias, MaxSessionFieldBytes},
		{"agent", r.Agent, MaxAgentBytes},
		{"agentEmail", r.AgentEmail, MaxAgentBytes},
		{"lastError", r.LastError, MaxErrorBytes},
	}
	for _, f := range fields {
		if len(f.value) > f.max {
			return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrTooLarge, f.name, len(f.value), f.max)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("chat record: %s is not UTF-8", f.name)
		}
	}
	if !ValidID(r.ID) {
		return errors.New("chat record: id is not a chat id")
	}
	if len(r.ClientMessages) > MaxClientMessages {
		return fmt.Errorf("%w: %d client message ids, at most %d", ErrTooLarge, len(r.ClientMessages), MaxClientMessages)
	}
	for _, id := range r.ClientMessages {
		if len(id) > MaxClientMessageIDBytes || !utf8.ValidString(id) {
			return fmt.Errorf("%w: a client message id is over %d bytes or not UTF-8", ErrTooLarge, MaxClientMessageIDBytes)
		}
	}
	if r.NextSeq < 1 || r.WebhookDelivered < 0 || r.TranscriptPosition < 0 {
		return errors.New("chat record: nextSeq, webhookDelivered or transcriptPosition out of range")
	}
	return nil
}

// ValidID reports whether s can be a chat id and so a key of a shard's data: a Secret's
// keys are [-._a-zA-Z0-9]+.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDBytes {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return r != '-' && r != '_' && r != '.' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) < 0
}
