// Package gms speaks the Genesys Mobile Engagement (GMS) Chat API version 2: the wire types
// every operation shares, and a client that calls them with retries per the gateway's policy.
package gms

import (
	"sync"
	"sync/atomic"
)

// Status codes of the response envelope.
const (
	// StatusOK is success.
	StatusOK = 0
	// StatusRecoverable is a recoverable error: retrying may succeed, other fields are not
	// trustworthy.
	StatusRecoverable = 1
	// StatusUnrecoverable is an unrecoverable error: the chat may have ended (see ChatEnded).
	StatusUnrecoverable = 2
)

// Response is the envelope every operation answers with. Unknown fields are ignored.
type Response struct {
	StatusCode int    `json:"statusCode"`
	ChatEnded  bool   `json:"chatEnded,omitempty"`
	ChatID     string `json:"chatId,omitempty"`
	UserID     string `json:"userId,omitempty"`
	SecureKey  string `json:"secureKey,omitempty"`
	Alias      string `json:"alias,omitempty"`
	// Messages are the transcript events of this response.
	Messages []Event `json:"messages,omitempty"`
	// NextPosition is the transcript position to ask for next; nil when the server sent none.
	NextPosition *int `json:"nextPosition,omitempty"`
	// Errors explain a failure.
	Errors []APIError `json:"errors,omitempty"`
	// UserData is the answer's own userData: a file upload's answer carries the new
	// file's id in it (FileIDKey).
	UserData map[string]string `json:"userData,omitempty"`
}

// APIError is one entry of a response's errors.
type APIError struct {
	Code   int    `json:"code"`
	Advice string `json:"advice,omitempty"`
}

// Participant types of an event's sender.
const (
	ParticipantClient     = "Client"
	ParticipantAgent      = "Agent"
	ParticipantExternal   = "External"
	ParticipantSupervisor = "Supervisor"
)

// Event types of a transcript. Unknown types are kept opaque, never an error.
const (
	EventParticipantJoined = "ParticipantJoined"
	EventParticipantLeft   = "ParticipantLeft"
	EventMessage           = "Message"
	EventPushURL           = "PushUrl"
	EventTypingStarted     = "TypingStarted"
	EventTypingStopped     = "TypingStopped"
	EventNicknameUpdated   = "NicknameUpdated"
	EventFileUploaded      = "FileUploaded"
	EventFileDeleted       = "FileDeleted"
	EventCustomNotice      = "CustomNotice"
	EventNotice            = "Notice"
	EventIdleAlert         = "IdleAlert"
	EventIdleClose         = "IdleClose"
)

// AgentEmailKey is the userData key of a ParticipantJoined event that carries the agent's
// e-mail address, when the deployment attaches it.
const AgentEmailKey = "EmailAddress"

// Event is one transcript event.
type Event struct {
	From Participant `json:"from"`
	// Index is the event's transcript position, from 1; 0 when the server sent none.
	Index       int               `json:"index,omitempty"`
	Type        string            `json:"type"`
	UTCTime     int64             `json:"utcTime,omitempty"`
	Text        string            `json:"text,omitempty"`
	MessageType string            `json:"messageType,omitempty"`
	UserData    map[string]string `json:"userData,omitempty"`
}

// Participant is an event's sender.
type Participant struct {
	Nickname      string `json:"nickname,omitempty"`
	ParticipantID int    `json:"participantId,omitempty"`
	Type          string `json:"type,omitempty"`
}

// Operation names a Chat API operation. Its value is the default last path segment after
// the chat id, and the key of spec.connection.endpointOverrides.
type Operation string

// The Chat API's operations.
const (
	OpRequestChat    Operation = "requestChat"
	OpRefresh        Operation = "refresh"
	OpSend           Operation = "send"
	OpStartTyping    Operation = "startTyping"
	OpStopTyping     Operation = "stopTyping"
	OpDisconnect     Operation = "disconnect"
	OpPushURL        Operation = "pushUrl"
	OpCustomNotice   Operation = "customNotice"
	OpUpdateNickname Operation = "updateNickname"
	OpUpdateData     Operation = "updateData"
	OpReadReceipt    Operation = "readReceipt"
	OpFileLimits     Operation = "fileLimits"
	OpFileUpload     Operation = "fileUpload"
	OpFileDownload   Operation = "fileDownload"
	OpFileDelete     Operation = "fileDelete"
)

// SessionOperations are the operations on an existing chat that take a form body of the
// session triple plus their own parameters, with their default path after the chat id.
var SessionOperations = map[Operation]string{
	OpRefresh:        "refresh",
	OpSend:           "send",
	OpStartTyping:    "startTyping",
	OpStopTyping:     "stopTyping",
	OpDisconnect:     "disconnect",
	OpPushURL:        "pushUrl",
	OpCustomNotice:   "customNotice",
	OpUpdateNickname: "updateNickname",
	OpUpdateData:     "updateData",
	OpReadReceipt:    "readReceipt",
	OpFileLimits:     "file/limits",
}

// Form parameter names.
const (
	ParamUserID             = "userId"
	ParamSecureKey          = "secureKey"
	ParamAlias              = "alias"
	ParamTranscriptPosition = "transcriptPosition"
	ParamNickname           = "nickname"
	ParamFirstName          = "firstName"
	ParamLastName           = "lastName"
	ParamSubject            = "subject"
	ParamEmailAddress       = "emailAddress"
	ParamMessage            = "message"
	ParamMessageType        = "messageType"
	ParamPushURL            = "pushUrl"
	// TimeZoneKey is the conventional userData key of the user's offset from UTC in minutes.
	TimeZoneKey = "TimeZone"
)

// UserDataParam is the form parameter name of one userData entry: userData[key].
func UserDataParam(key string) string { return "userData[" + key + "]" }

// Session is a chat's identity on Genesys: its id and the session triple. The alias can
// change during a session; Session keeps the latest non-empty one and is safe for
// concurrent use. The secure key is a secret: it never leaves this type but on the wire.
type Session struct {
	ChatID    string
	UserID    string
	secureKey string

	mu    sync.Mutex
	alias string

	// refreshURL is the Refresh endpoint last built for this session, with what it was
	// built from: a poll does not build its URL again while the settings stay.
	refreshURL atomic.Pointer[sessionEndpoint]
}

// sessionEndpoint is a session operation's URL under one config and chat id.
type sessionEndpoint struct {
	cfg    *config
	chatID string
	url    string
}

// NewSession returns the session a Request Chat response established.
func NewSession(chatID, userID, secureKey, alias string) *Session {
	return &Session{ChatID: chatID, UserID: userID, secureKey: secureKey, alias: alias}
}

// Alias returns the alias to send next.
func (s *Session) Alias() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alias
}

// Observe adopts a response's alias when it carries one.
func (s *Session) Observe(r *Response) {
	if r == nil || r.Alias == "" {
		return
	}
	s.mu.Lock()
	s.alias = r.Alias
	s.mu.Unlock()
}

// SecureKey returns the session's secure key, for the wire only.
func (s *Session) SecureKey() string { return s.secureKey }

// String describes the session without its secure key.
func (s *Session) String() string {
	return "chat " + s.ChatID + " user " + s.UserID + " alias " + s.Alias()
}
