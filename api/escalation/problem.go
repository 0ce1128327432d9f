package escalation

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ProblemTypeBase prefixes the type of every problem the escalation API answers.
const ProblemTypeBase = "https://chat.gatewayops.io/problems/"

// Problem types. A type is stable: a bot branches on it, not on the detail, which is for
// people and may change.
const (
	// ProblemUnauthorized (401): a missing or wrong bearer token.
	ProblemUnauthorized = ProblemTypeBase + "unauthorized"
	// ProblemMalformedRequest (400): the body is not one JSON object of the call's fields.
	ProblemMalformedRequest = ProblemTypeBase + "malformed-request"
	// ProblemInvalidField (422): a field breaks a rule; Problem.Field names it.
	ProblemInvalidField = ProblemTypeBase + "invalid-field"
	// ProblemBodyTooLarge (413): the body is over MaxBodyBytes.
	ProblemBodyTooLarge = ProblemTypeBase + "body-too-large"
	// ProblemUnsupportedMediaType (415): the body is not application/json.
	ProblemUnsupportedMediaType = ProblemTypeBase + "unsupported-media-type"
	// ProblemNotFound (404): no such chat (ended chats are kept for a while) or resource.
	ProblemNotFound = ProblemTypeBase + "not-found"
	// ProblemConflict (409): the chat's state does not allow the call (a message while
	// Requesting: retry; once ended: never).
	ProblemConflict = ProblemTypeBase + "conflict"
	// ProblemPresentContentDisabled (409): the gateway's supportPresentContent is false.
	ProblemPresentContentDisabled = ProblemTypeBase + "present-content-disabled"
	// ProblemOverCapacity (503): the runner carries all the chats it may; retry after
	// Problem.RetryAfter.
	ProblemOverCapacity = ProblemTypeBase + "over-capacity"
	// ProblemUnavailable (503): the runner cannot serve now (its token is unreadable, the
	// runner owning the chat does not answer).
	ProblemUnavailable = ProblemTypeBase + "unavailable"
	// ProblemGenesysError (502): Genesys failed the call after retries (no answer, HTTP
	// errors, statusCode 1); the chat goes on unless its events say otherwise.
	ProblemGenesysError = ProblemTypeBase + "genesys-error"
	// ProblemGenesysRefused (502): Genesys refused a message, typing or pushed URL with
	// statusCode 2: it did not reach the agent. Detail gives Genesys' error code and advice
	// and says whether the chat ended with it (its events then end with ended or failed).
	// Resending the same call unchanged does not help.
	ProblemGenesysRefused = ProblemTypeBase + "genesys-refused"
	// ProblemInternal (500): the runner failed; its logs say why.
	ProblemInternal = ProblemTypeBase + "internal"
	// ProblemMethodNotAllowed (405): the resource has no such method.
	ProblemMethodNotAllowed = ProblemTypeBase + "method-not-allowed"
)

// Problem is an RFC 9457 problem detail: the body of every error answer of the API
// (application/problem+json), and the error the Client returns for any answer outside
// 2xx. Get it with errors.As; branch on Type (or Status), show Detail.
type Problem struct {
	// Type is one of the Problem* constants; "about:blank" when the answer was not a
	// problem document (a proxy's error page, say).
	Type  string `json:"type"`
	Title string `json:"title"`
	// Status is the HTTP status of the answer.
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the offending request field of a validation error (422).
	Field string `json:"field,omitempty"`
	// RetryAfter is the answer's Retry-After header (503 over capacity): how long to wait
	// before retrying. It travels as a header, not in the JSON body.
	RetryAfter time.Duration `json:"-"`
}

// Error renders the problem on one line: status, title, field and detail.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString("escalation API: ")
	b.WriteString(strconv.Itoa(p.Status))
	if p.Title != "" {
		b.WriteString(" " + p.Title)
	}
	if p.Field != "" {
		b.WriteString(" (field " + p.Field + ")")
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	return b.String()
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
