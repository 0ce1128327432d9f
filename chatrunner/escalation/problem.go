package escalation

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// problem is the API's problem document (api.Problem, the one definition bots decode),
// with the methods the server writes it with.
type problem api.Problem

// problem kinds, by their stable type.
var (
	problemUnauthorized     = problem{Type: api.ProblemUnauthorized, Title: "Missing or wrong bearer token", Status: http.StatusUnauthorized}
	problemMalformed        = problem{Type: api.ProblemMalformedRequest, Title: "The request body is not valid JSON for this call", Status: http.StatusBadRequest}
	problemInvalid          = problem{Type: api.ProblemInvalidField, Title: "A field of the request is invalid", Status: http.StatusUnprocessableEntity}
	problemTooLarge         = problem{Type: api.ProblemBodyTooLarge, Title: "The request body is too large", Status: http.StatusRequestEntityTooLarge}
	problemMediaType        = problem{Type: api.ProblemUnsupportedMediaType, Title: "The request body must be application/json", Status: http.StatusUnsupportedMediaType}
	problemNotFound         = problem{Type: api.ProblemNotFound, Title: "No such chat", Status: http.StatusNotFound}
	problemConflict         = problem{Type: api.ProblemConflict, Title: "The chat's state does not allow this call", Status: http.StatusConflict}
	problemPresentDisabled  = problem{Type: api.ProblemPresentContentDisabled, Title: "Present content is not supported by this gateway", Status: http.StatusConflict}
	problemOverCapacity     = problem{Type: api.ProblemOverCapacity, Title: "The gateway is at capacity", Status: http.StatusServiceUnavailable}
	problemUnavailable      = problem{Type: api.ProblemUnavailable, Title: "The runner cannot serve this call now", Status: http.StatusServiceUnavailable}
	problemUpstream         = problem{Type: api.ProblemGenesysError, Title: "Genesys failed the call", Status: http.StatusBadGateway}
	problemRefused          = problem{Type: api.ProblemGenesysRefused, Title: "Genesys refused the call; it did not reach the agent", Status: http.StatusBadGateway}
	problemInternal         = problem{Type: api.ProblemInternal, Title: "Internal error", Status: http.StatusInternalServerError}
	problemMethodNotAllowed = problem{Type: api.ProblemMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed}
)

// with returns the problem with a detail and optional field.
func (p problem) with(detail, field string) problem {
	p.Detail, p.Field = detail, field
	return p
}

// write sends the problem; RetryAfter, when set, becomes the Retry-After header (whole
// seconds, rounded up so that a client never retries early).
func (p problem) write(w http.ResponseWriter) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="escalations"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(api.Problem(p))
}

// writeJSON sends a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
