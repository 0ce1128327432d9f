package escalation

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is a request field that breaks a rule of the API. The server answers it
// with 422 and a problem whose Field is this Field and whose Detail is Error(); the
// Validate methods return it so that a bot can catch the same mistake before sending.
type FieldError struct {
	// Field names the field as the JSON body spells it: "user.email", "attributes.Plan".
	Field string
	// Detail says what is wrong with it: "must be at most 256 characters".
	Detail string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Detail }

// Validate checks the request against the API's bounds: required fields, lengths, the
// time zone range and the attributes' keys. It returns a *FieldError naming the first
// field at fault, or nil. The server also checks what only it knows (the gateway's
// domain and queue, a user name Genesys needs); Validate cannot.
func (r *Request) Validate() error {
	u := r.User
	if err := first(
		required("conversationId", r.ConversationID),
		bounded("conversationId", r.ConversationID, MaxConversationIDLength),
		pathSegment("conversationId", r.ConversationID),
		required("domain", r.Domain),
		bounded("domain", r.Domain, MaxNameLength),
		bounded("queue", r.Queue, MaxNameLength),
		bounded("user.firstName", u.FirstName, MaxNameLength),
		bounded("user.lastName", u.LastName, MaxNameLength),
		bounded("user.name", u.Name, MaxNameLength),
		bounded("user.email", u.Email, MaxEmailLength),
		bounded("subject", r.Subject, MaxSubjectLength),
		bounded("locale", r.Locale, MaxLocaleLength),
	); err != nil {
		return err
	}
	if tz := u.TimeZoneOffsetMinutes; tz != nil && (*tz < -MaxTimeZoneOffsetMinutes || *tz > MaxTimeZoneOffsetMinutes) {
		return &FieldError{"user.timeZoneOffsetMinutes", "must be between -" + strconv.Itoa(MaxTimeZoneOffsetMinutes) +
			" and " + strconv.Itoa(MaxTimeZoneOffsetMinutes)}
	}
	if len(r.Attributes) > MaxAttributes {
		return &FieldError{"attributes", "must have at most " + strconv.Itoa(MaxAttributes) + " entries"}
	}
	for k, v := range r.Attributes {
		// Genesys reads userData[key] form parameters: a bracket in a key would change
		// which key it reads.
		if k == "" || strings.ContainsAny(k, "[]") {
			return &FieldError{"attributes", "keys must be non-empty and without brackets"}
		}
		if err := first(bounded("attributes", k, MaxAttributeKeyLength), bounded("attributes."+k, v, MaxAttributeValueLength)); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the message's text (required) and the lengths; a *FieldError or nil.
func (m *MessageRequest) Validate() error {
	return first(required("text", m.Text), bounded("text", m.Text, MaxTextLength), bounded("type", m.Type, MaxMessageTypeLength),
		bounded("clientMessageId", m.ClientMessageID, MaxClientMessageIDLength))
}

// Validate checks that typing is set; a *FieldError or nil.
func (t *TypingRequest) Validate() error {
	if t.Typing == nil {
		return &FieldError{"typing", "is required (true or false)"}
	}
	return nil
}

// Validate checks the URL (required, absolute http or https, bounded) and the title's
// length; a *FieldError or nil. Only web URLs are accepted because the agent's desktop
// opens them.
func (p *PresentRequest) Validate() error {
	if err := first(required("url", p.URL), bounded("url", p.URL, MaxURLLength), bounded("title", p.Title, MaxTitleLength)); err != nil {
		return err
	}
	if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &FieldError{"url", "must be an absolute http or https URL"}
	}
	return nil
}

// first returns the first field error of rules, or nil. It returns the error interface
// only when there is one, so that a nil result compares equal to nil.
func first(rules ...*FieldError) error {
	for _, r := range rules {
		if r != nil {
			return r
		}
	}
	return nil
}

// required refuses an empty or blank string.
func required(field, v string) *FieldError {
	if strings.TrimSpace(v) == "" {
		return &FieldError{field, "is required"}
	}
	return nil
}

// bounded refuses a string longer than limit characters, or not UTF-8 (JSON carries text).
func bounded(field, v string, limit int) *FieldError {
	if !utf8.ValidString(v) {
		return &FieldError{field, "must be UTF-8 text"}
	}
	if utf8.RuneCountInString(v) > limit {
		return &FieldError{field, "must be at most " + strconv.Itoa(limit) + " characters"}
	}
	return nil
}

// pathSegment refuses "." and "..": a conversation id is a path segment of
// GET /v1/conversations/{id}, and these two would be read as a path, not an id.
func pathSegment(field, v string) *FieldError {
	if v == "." || v == ".." {
		return &FieldError{Field: field, Detail: "cannot be \".\" or \"..\""}
	}
	return nil
}

// ValidateFileName checks an uploaded file's name: required, at most MaxFileNameLength
// characters, no control character, no path separator; a *FieldError (field "file") or nil.
func ValidateFileName(name string) error {
	if err := first(required("file", name), bounded("file", name, MaxFileNameLength)); err != nil {
		return &FieldError{"file", "needs a filename of at most " + strconv.Itoa(MaxFileNameLength) + " characters"}
	}
	if !utf8.ValidString(name) || strings.ContainsAny(name, "/\\") || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return &FieldError{"file", "the filename must be valid UTF-8 without control characters or path separators"}
	}
	if name == "." || name == ".." {
		return &FieldError{"file", "the filename must not be . or .."}
	}
	return nil
}
