package escalation

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// TokenSource returns the bearer token callers must present, read live so that a rotated
// Secret takes effect on the next call.
type TokenSource func() (string, error)

// authorized checks the request's bearer token in constant time. It compares digests, so
// neither the token's content nor its length leaks through timing.
func authorized(r *http.Request, token string) bool {
	scheme, given, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	a := sha256.Sum256([]byte(strings.TrimSpace(given)))
	b := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authenticate wraps a handler with the bearer token check.
func authenticate(tokens TokenSource, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := tokens()
		if err != nil {
			problemUnavailable.with("The escalation token is not available; the runner refuses calls until it is.", "").write(w)
			return
		}
		if !authorized(r, token) {
			problemUnauthorized.with("Send the gateway's escalation token as Authorization: Bearer <token>.", "").write(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
