package escalation

import (
	"net/url"
	"time"
)

// Bounds of request fields. The server refuses a field beyond its bound with 422 and the
// field's name (see FieldError); they are exported so that a bot can check its input
// before sending (Validate) against the very numbers the server uses. Lengths count
// characters (Unicode code points), not bytes, because the people whose names and
// messages they bound count that way.
const (
	// MaxConversationIDLength bounds conversationId, the bot's id of the conversation.
	MaxConversationIDLength = 256
	// MaxNameLength bounds domain, queue and the user's names.
	MaxNameLength = 256
	// MaxEmailLength bounds the user's e-mail address (RFC 5321's 320 characters).
	MaxEmailLength = 320
	// MaxSubjectLength bounds the chat's subject.
	MaxSubjectLength = 1024
	// MaxAttributes bounds how many attributes an escalation carries.
	MaxAttributes = 64
	// MaxAttributeKeyLength bounds an attribute's key.
	MaxAttributeKeyLength = 128
	// MaxAttributeValueLength bounds an attribute's value.
	MaxAttributeValueLength = 4096
	// MaxLocaleLength bounds the locale (a BCP 47 tag is at most 35 characters in practice).
	MaxLocaleLength = 35
	// MaxTextLength bounds the text of a user's message.
	MaxTextLength = 8192
	// MaxMessageTypeLength bounds the type of a user's message.
	MaxMessageTypeLength = 64
	// MaxClientMessageIDLength bounds a message's clientMessageId.
	MaxClientMessageIDLength = 64
	// MaxClientMessages is how many of a chat's most recent client message ids the
	// gateway remembers.
	MaxClientMessages = 8
	// MaxURLLength bounds a presented URL.
	MaxURLLength = 2048
	// MaxTitleLength bounds a presented URL's title.
	MaxTitleLength = 256
	// MaxTimeZoneOffsetMinutes bounds the user's offset from UTC either way: 14 hours,
	// the widest offset in use (UTC+14, UTC-12).
	MaxTimeZoneOffsetMinutes = 14 * 60
)

// Bounds of an event's Data, which the runner applies to a Genesys notice's userData: the
// agent side fills it, and an event must stay small in the chat's log and in every answer
// that carries it.
const (
	// MaxEventDataEntries bounds the entries; the first ones by key are kept.
	MaxEventDataEntries = 32
	// MaxEventDataKeyLength bounds a key; an entry with a longer key is left out, since a
	// cut key would name something else.
	MaxEventDataKeyLength = 128
	// MaxEventDataValueLength bounds a value; a longer value is cut.
	MaxEventDataValueLength = 1024
)

// Bounds of files, both ways.
const (
	// MaxFileBytes bounds a file a bot uploads (POST /v1/chats/{id}/files, the whole
	// multipart body) whatever Genesys allows; the runner also applies Genesys'
	// upload-max-file-size, usually smaller. A larger one is refused with 413 while it
	// streams.
	MaxFileBytes = 100 << 20
	// MaxFileNameLength bounds an uploaded file's name.
	MaxFileNameLength = 255
)

// Limits of the calls themselves, as a runner applies them by default.
const (
	// MaxBodyBytes bounds a request body; a larger one is refused with 413.
	MaxBodyBytes = 64 << 10
	// MaxWait bounds the wait of an events long poll; a longer one waits this long. An
	// HTTP client carrying long polls needs a timeout above it.
	MaxWait = 60 * time.Second
)

// Request is the body of POST /v1/chats, an escalation: a bot hands a conversation to an
// agent. ConversationID is the idempotency key: escalating it again while its chat lives
// answers that chat (200) instead of a new one (201), so a bot may retry freely.
type Request struct {
	// ConversationID is the bot's id of the conversation; required.
	ConversationID string `json:"conversationId"`
	// Domain must equal the gateway's spec.domain; required. It guards against a bot
	// escalating to another tenant's gateway.
	Domain string `json:"domain"`
	// Queue must equal the gateway's spec.escalationQueue when that is set.
	Queue string `json:"queue,omitempty"`
	// User is the end user; the runner needs a name for Genesys (Name, or FirstName and
	// LastName).
	User User `json:"user"`
	// Subject of the chat, shown to the agent.
	Subject string `json:"subject,omitempty"`
	// Attributes are sent to Genesys as userData; keys without brackets, which Genesys
	// reads as the form's userData[key] syntax.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Locale is the user's locale (BCP 47), passed on as userData[Locale].
	Locale string `json:"locale,omitempty"`
}

// User is the end user of an escalation.
type User struct {
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
	// Name is the nickname the agent sees; "FirstName LastName" when empty.
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// TimeZoneOffsetMinutes is the user's offset from UTC; a pointer because 0 (UTC) is
	// an offset, and an unknown one is left out.
	TimeZoneOffsetMinutes *int `json:"timeZoneOffsetMinutes,omitempty"`
}

// MessageRequest is the body of POST /v1/chats/{id}/messages: the user's message to the
// agent.
type MessageRequest struct {
	// Text is required.
	Text string `json:"text"`
	// Type is passed to Genesys as the message's type and echoed to the agent side.
	Type string `json:"type,omitempty"`
	// ClientMessageID is the bot's id of this message, optional: a retry with the same id
	// (after a timeout, say) is not sent to the agent again, even by another runner after
	// a hand-over; the gateway remembers the chat's MaxClientMessages most recent ids.
	ClientMessageID string `json:"clientMessageId,omitempty"`
}

// TypingRequest is the body of POST /v1/chats/{id}/typing: the user starts or stops
// typing. Typing is a pointer so that a body without it is refused rather than read as
// "stopped".
type TypingRequest struct {
	Typing *bool `json:"typing"`
}

// PresentRequest is the body of POST /v1/chats/{id}/present: rich content, forwarded as a
// pushed URL when the gateway's supportPresentContent is true.
type PresentRequest struct {
	// URL is required: an absolute http or https URL.
	URL string `json:"url"`
	// Title is accepted for the bot's convenience; Genesys carries no title.
	Title string `json:"title,omitempty"`
}

// ChatState is where a chat is in its life; the same values as the GenesysGateway's
// status.runners[].chats[].state, typed here so that a bot need not import the
// Kubernetes API.
type ChatState string

// Chat states.
const (
	// ChatRequesting: the runner is requesting the chat on Genesys.
	ChatRequesting ChatState = "Requesting"
	// ChatWaitingForAgent: Genesys has the chat; no agent joined yet.
	ChatWaitingForAgent ChatState = "WaitingForAgent"
	// ChatConnected: an agent is in the chat.
	ChatConnected ChatState = "Connected"
	// ChatEnded: the chat is over (EndReason says why).
	ChatEnded ChatState = "Ended"
	// ChatTransferred: the chat went back to the bot instead of ending, as the gateway's
	// spec.transferBackOnAgentClose asks.
	ChatTransferred ChatState = "Transferred"
	// ChatFailed: Genesys failed the chat after retries (LastError says how).
	ChatFailed ChatState = "Failed"
)

// Terminal reports whether a chat in this state is over: no call changes it any more.
func (s ChatState) Terminal() bool {
	return s == ChatEnded || s == ChatTransferred || s == ChatFailed
}

// EndReason says why a chat ended.
type EndReason string

// End reasons.
const (
	EndAgentClosed       EndReason = "AgentClosed"
	EndUserClosed        EndReason = "UserClosed"
	EndGenesysError      EndReason = "GenesysError"
	EndEscalationTimeout EndReason = "EscalationTimeout"
	EndIdleTimeout       EndReason = "IdleTimeout"
)

// Chat is a chat as the API shows it: the answer of POST /v1/chats, GET and DELETE
// /v1/chats/{id}. It never holds the Genesys secure key.
type Chat struct {
	// ID is the runner's id of the chat, used in every other call. It starts with the
	// owning runner's prefix (r0-, r1-...), which is how any runner forwards a call to it.
	ID             string `json:"id"`
	ConversationID string `json:"conversationId"`
	// GenesysChatID is the chat's id on Genesys, once requested.
	GenesysChatID string    `json:"genesysChatId,omitempty"`
	State         ChatState `json:"state"`
	// Agent is the agent as the user sees them (per agentOverride); nil before one joins.
	Agent       *Agent     `json:"agent,omitempty"`
	RequestTime *time.Time `json:"requestTime,omitempty"`
	ConnectTime *time.Time `json:"connectTime,omitempty"`
	EndTime     *time.Time `json:"endTime,omitempty"`
	EndReason   EndReason  `json:"endReason,omitempty"`
	// LastError is the chat's last error, without any credential.
	LastError string `json:"lastError,omitempty"`
}

// Agent is the agent of a chat as the user sees them.
type Agent struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// EventKind is what an event of a chat's stream tells.
type EventKind string

// Event kinds.
const (
	EventAgentJoined   EventKind = "agentJoined"
	EventAgentLeft     EventKind = "agentLeft"
	EventMessage       EventKind = "message"
	EventTypingStarted EventKind = "typingStarted"
	EventTypingStopped EventKind = "typingStopped"
	EventPushURL       EventKind = "pushUrl"
	EventNotice        EventKind = "notice"
	// EventIdleAlert: Genesys warns that the chat closes soon for inactivity; the user
	// keeps it by sending a message. Text is the gateway's canned IdleAlert.
	EventIdleAlert EventKind = "idleAlert"
	// EventIdleClose: Genesys closed the chat for inactivity; ended (IdleTimeout) follows.
	// Text is the gateway's canned IdleClose.
	EventIdleClose EventKind = "idleClose"
	// EventFileUploaded: the agent sent a file. File describes it; URL is its download
	// path (GET it with the token, or use Client.DownloadFile); Text is its name; Data is
	// Genesys' event userData (file-id, file-name, file-size, file-type), bounded.
	EventFileUploaded EventKind = "fileUploaded"
	EventEnded        EventKind = "ended"
	EventTransferred  EventKind = "transferred"
	EventFailed       EventKind = "failed"
)

// Terminal reports whether an event of this kind is a chat's last: ended, transferred or
// failed.
func (k EventKind) Terminal() bool {
	return k == EventEnded || k == EventTransferred || k == EventFailed
}

// Event is one agent-side event of a chat. Seq numbers a chat's events from 1 without
// gaps, so a bot reading them at least once (a retried long poll answers some again)
// de-duplicates by Seq.
type Event struct {
	Seq  int64     `json:"seq"`
	Kind EventKind `json:"kind"`
	Time time.Time `json:"time"`
	// Agent is the agent's display name per the gateway's agentOverride.
	Agent string `json:"agent,omitempty"`
	// Text of a message or notice; notices follow the gateway's configurationLocale.
	Text string `json:"text,omitempty"`
	// MessageType echoes a message's type.
	MessageType string `json:"messageType,omitempty"`
	// URL of a pushed URL.
	URL string `json:"url,omitempty"`
	// Data is a Genesys notice's structured data (its userData), when it has some: at
	// most MaxEventDataEntries entries, keys of at most MaxEventDataKeyLength characters
	// (longer ones are left out), values cut to MaxEventDataValueLength characters.
	Data map[string]string `json:"data,omitempty"`
	// Canned names the canned message a notice, idleAlert or idleClose carries (a key of
	// the gateway's spec.cannedMessages: WaitingForAgent, AgentJoined, IdleAlert, ...).
	Canned string `json:"canned,omitempty"`
	// Reason of ended, transferred and failed.
	Reason EndReason `json:"reason,omitempty"`
	// Error of failed, and of transferred after an error.
	Error string `json:"error,omitempty"`
	// File is the file of a fileUploaded event.
	File *EventFile `json:"file,omitempty"`
}

// EventFile is the file an agent sent (a fileUploaded event).
type EventFile struct {
	// ID is Genesys' id of the file.
	ID string `json:"id"`
	// Name is the file's name, as the agent's desktop sent it.
	Name string `json:"name,omitempty"`
	// Size is the file's size in bytes, when Genesys told it.
	Size *int64 `json:"size,omitempty"`
	// ContentType is the file's type, when Genesys told it.
	ContentType string `json:"contentType,omitempty"`
	// URL is the file's download path on the escalation API:
	// /v1/chats/{chatId}/files/{fileId}.
	URL string `json:"url"`
}

// FilePath is the escalation API path of a chat's file: its download URL, below the
// API's base URL.
func FilePath(chatID, fileID string) string {
	return chatPath(chatID) + "/files/" + url.PathEscape(fileID)
}

// UploadResponse is the answer of POST /v1/chats/{id}/files: the new file's id on Genesys.
type UploadResponse struct {
	FileID string `json:"fileId"`
}

// FileInfo describes a downloaded file, from the answer's headers.
type FileInfo struct {
	// Name is the filename of the Content-Disposition, "" when none.
	Name string
	// ContentType is the answer's Content-Type.
	ContentType string
	// Size is the Content-Length, -1 when unknown.
	Size int64
}

// EventPage is the answer of GET /v1/chats/{id}/events?after=N&wait=D: the events with
// Seq > N, in order.
type EventPage struct {
	ChatID string  `json:"chatId"`
	Events []Event `json:"events"`
	// Next is the seq to pass as after next time: the last event's, or N when there was
	// none.
	Next int64 `json:"next"`
}

// WebhookPayloadType is the type of every webhook delivery.
const WebhookPayloadType = "chat.event"

// Headers of a webhook delivery, per the Standard Webhooks convention.
const (
	// WebhookIDHeader is "<chatId>:<seq>": stable per event, the key to de-duplicate by.
	WebhookIDHeader = "webhook-id"
	// WebhookTimestampHeader is the attempt's Unix seconds.
	WebhookTimestampHeader = "webhook-timestamp"
	// WebhookSignatureHeader is "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per signing
	// secret, space-separated.
	WebhookSignatureHeader = "webhook-signature"
)

// WebhookPayload is the body of a webhook delivery: one event of one chat
// (openapi.yaml, webhooks.chatEvent). Verify the signature before decoding it.
type WebhookPayload struct {
	// Type is WebhookPayloadType.
	Type string `json:"type"`
	// ChatID is the chat the event is of.
	ChatID string `json:"chatId"`
	// Event is the event, as the long poll and the streams give it.
	Event Event `json:"event"`
}
