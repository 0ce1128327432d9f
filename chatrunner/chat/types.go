package chat

import (
	"errors"
	"fmt"
	"time"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Escalation is a bot's request to hand a conversation to an agent.
type Escalation struct {
	// ConversationID is the bot's id of the conversation; the idempotency key.
	ConversationID string
	// Domain must equal the gateway's domain.
	Domain string
	// Queue must equal the gateway's escalation queue when it has one.
	Queue string
	// User is the end user.
	User User
	// Subject of the chat.
	Subject string
	// Attributes are sent to Genesys as userData.
	Attributes map[string]string
	// Locale is the user's locale, passed on as userData[Locale].
	Locale string
}

// User is the end user of an escalation.
type User struct {
	FirstName string
	LastName  string
	// Name is the nickname; "FirstName LastName" when empty.
	Name  string
	Email string
	// TimeZoneOffsetMinutes is the user's offset from UTC, when known.
	TimeZoneOffsetMinutes *int
}

// View is a chat as the escalation API shows it.
type View struct {
	ID             string
	ConversationID string
	GenesysChatID  string
	State          chatv1alpha1.ChatState
	Agent          Agent
	RequestTime    time.Time
	ConnectTime    time.Time
	EndTime        time.Time
	EndReason      chatv1alpha1.ChatEndReason
	LastError      string
}

// Agent is the agent of a chat as the user sees it.
type Agent struct {
	Name  string
	Email string
}

// Event kinds of the escalation API's event stream.
const (
	KindAgentJoined   = "agentJoined"
	KindAgentLeft     = "agentLeft"
	KindMessage       = "message"
	KindTypingStarted = "typingStarted"
	KindTypingStopped = "typingStopped"
	KindPushURL       = "pushUrl"
	KindNotice        = "notice"
	KindIdleAlert     = "idleAlert"
	KindIdleClose     = "idleClose"
	// KindFileUploaded: the agent sent a file (Event.File; URL its download path, Text its
	// name, Data Genesys' userData of it).
	KindFileUploaded = "fileUploaded"
	KindEnded        = "ended"
	KindTransferred  = "transferred"
	KindFailed       = "failed"
)

// Event is one agent-side event of a chat, numbered per chat from 1 without gaps.
type Event struct {
	Seq  int64     `json:"seq"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
	// Agent is the agent's display name per agentOverride.
	Agent string `json:"agent,omitempty"`
	// Text of a message or notice.
	Text string `json:"text,omitempty"`
	// MessageType echoes a message's type.
	MessageType string `json:"messageType,omitempty"`
	// URL of a pushed URL.
	URL string `json:"url,omitempty"`
	// Data is the structured data (userData) of a Genesys notice, bounded (noticeData).
	Data map[string]string `json:"data,omitempty"`
	// Canned names the canned message a notice, idleAlert or idleClose carries.
	Canned chatv1alpha1.CannedMessageKey `json:"canned,omitempty"`
	// Reason of ended, transferred and failed.
	Reason chatv1alpha1.ChatEndReason `json:"reason,omitempty"`
	// Error of failed and transferred after an error.
	Error string `json:"error,omitempty"`
	// File of fileUploaded.
	File *FileRef `json:"file,omitempty"`
}

// FileRef is the file of a fileUploaded event: the bot API's type, so that the event a bot
// reads is the engine's.
type FileRef = api.EventFile

// FileInfo describes a file downloaded from Genesys.
type FileInfo struct {
	// Name is the file's name, "" when Genesys gave none.
	Name string
	// ContentType is Genesys' content type of the file.
	ContentType string
	// Size is the file's size in bytes, -1 when unknown.
	Size int64
}

// FileRefusal says which of Genesys' file limits refused an upload.
type FileRefusal string

// File refusals.
const (
	// FileTooLarge: the file is over upload-max-file-size, what is left of
	// upload-max-total-size, or the gateway's own bound.
	FileTooLarge FileRefusal = "tooLarge"
	// FileTypeNotAllowed: the file's extension is not among upload-file-types.
	FileTypeNotAllowed FileRefusal = "typeNotAllowed"
	// FileCountExceeded: the chat has upload-max-files files already.
	FileCountExceeded FileRefusal = "countExceeded"
	// FileNeedsAgent: upload-need-agent is set and no agent joined yet.
	FileNeedsAgent FileRefusal = "needsAgent"
)

// FileRefusedError is an upload the limits Genesys announces for the chat refuse: the
// file did not reach Genesys (or, when too large, was cut off while streaming, before
// Genesys could take it).
type FileRefusedError struct {
	Reason FileRefusal
	Detail string
}

func (e *FileRefusedError) Error() string {
	return "file refused (" + string(e.Reason) + "): " + e.Detail
}

// Errors of the file calls.
var (
	// ErrFileNotFound: no file with that id was sent by an agent in the chat.
	ErrFileNotFound = errors.New("no such file in the chat")
	// ErrFilesUnsupported: the engine's Genesys client has no file operations.
	ErrFilesUnsupported = errors.New("files are not supported by this gateway's Genesys client")
)

// Errors the engine returns to the escalation API.
var (
	// ErrNotFound: no chat with that id on this runner.
	ErrNotFound = errors.New("chat not found")
	// ErrPresentDisabled: the gateway does not forward present content.
	ErrPresentDisabled = errors.New("present content is not supported by this gateway (spec.supportPresentContent is false)")
)

// InvalidError is an escalation or call the gateway's configuration refuses.
type InvalidError struct {
	// Field is the offending field, as the API names it.
	Field  string
	Detail string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Detail }

// StateError is a call the chat's state does not allow (a message to an ended chat).
type StateError struct {
	State  chatv1alpha1.ChatState
	Detail string
}

func (e *StateError) Error() string { return fmt.Sprintf("chat is %s: %s", e.State, e.Detail) }

// CapacityError refuses an escalation beyond the runner's capacity, or while it is behind
// its poll schedule (Behind > 0: short of CPU).
type CapacityError struct {
	Capacity   int
	RetryAfter time.Duration
	// Behind is how late the runner's polls are, when that is why.
	Behind time.Duration
	// Pacing is set when the runner takes new chats gradually after it was behind.
	Pacing bool
}

func (e *CapacityError) Error() string {
	if e.Pacing {
		return "this runner is taking new chats gradually after it fell behind its polls (short of CPU)"
	}
	if e.Behind > 0 {
		return fmt.Sprintf("this runner is %s behind its polls (short of CPU): it takes no new chat until it catches up", e.Behind.Round(time.Millisecond))
	}
	return fmt.Sprintf("the gateway is at its capacity of %d chats on this runner", e.Capacity)
}

// StoreError refuses an escalation the durable store could not record: the bot retries.
type StoreError struct{ Err error }

func (e *StoreError) Error() string {
	return "the chat could not be recorded durably: " + e.Err.Error()
}

func (e *StoreError) Unwrap() error { return e.Err }

// terminal reports whether a state is final.
func terminal(s chatv1alpha1.ChatState) bool {
	switch s {
	case chatv1alpha1.ChatEnded, chatv1alpha1.ChatTransferred, chatv1alpha1.ChatFailed:
		return true
	}
	return false
}
