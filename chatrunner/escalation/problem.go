package escalation

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// problemBase prefixes every problem type.
const problemBase = "https://chat.gatewayops.io/problems/"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the offending request field of a validation error.
	Field string `json:"field,omitempty"`
	// retryAfter sets the Retry-After header.
	retryAfter time.Duration
}

// problem kinds, by their stable type suffix.
var (
	problemUnauthorized     = Problem{Type: "unauthorized", Title: "Missing or wrong bearer token", Status: http.StatusUnauthorized}
	problemMalformed        = Problem{Type: "malformed-request", Title: "The request body is not valid JSON for this call", Status: http.StatusBadRequest}
	problemInvalid          = Problem{Type: "invalid-field", Title: "A field of the request is invalid", Status: http.StatusUnprocessableEntity}
	problemTooLarge         = Problem{Type: "body-too-large", Title: "The request body is too large", Status: http.StatusRequestEntityTooLarge}
	problemMediaType        = Problem{Type: "unsupported-media-type", Title: "The request body must be application/json", Status: http.StatusUnsupportedMediaType}
	problemNotFound         = Problem{Type: "not-found", Title: "No such chat", Status: http.StatusNotFound}
	problemConflict         = Problem{Type: "conflict", Title: "The chat's state does not allow this call", Status: http.StatusConflict}
	problemPresentDisabled  = Problem{Type: "present-content-disabled", Title: "Present content is not supported by this gateway", Status: http.StatusConflict}
	problemOverCapacity     = Problem{Type: "over-capacity", Title: "The gateway is at capacity", Status: http.StatusServiceUnavailable}
	problemUnavailable      = Problem{Type: "unavailable", Title: "The runner cannot serve this call now", Status: http.StatusServiceUnavailable}
	problemUpstream         = Problem{Type: "genesys-error", Title: "Genesys refused or failed the call", Status: http.StatusBadGateway}
	problemInternal         = Problem{Type: "internal", Title: "Internal error", Status: http.StatusInternalServerError}
	problemMethodNotAllowed = Problem{Type: "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed}
)

// with returns the problem with a detail and optional field.
func (p Problem) with(detail, field string) Problem {
	p.Detail, p.Field = detail, field
	return p
}

// write sends the problem.
func (p Problem) write(w http.ResponseWriter) {
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((p.retryAfter+time.Second-1)/time.Second)))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="escalations"`)
	}
	if len(p.Type) < len(problemBase) || p.Type[:len(problemBase)] != problemBase {
		p.Type = problemBase + p.Type
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON sends a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
