package escalation

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// TokenSource returns the bearer tokens callers may present, read live so that a rotated
// Secret takes effect on the next call: the current one and, while a rotation overlaps,
// the previous one.
type TokenSource func() ([]string, error)

// Tokens keeps the tokens the API can accept: each trimmed of surrounding white space, as
// the presented one is (a Secret made from a file often ends with a line break); an empty
// one is left out, and so is one that still holds a line break, which no Authorization
// header can carry.
func Tokens(tokens ...string) []string {
	var usable []string
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" && !strings.ContainsAny(t, "\r\n") {
			usable = append(usable, t)
		}
	}
	return usable
}

// authorized checks the request's bearer token against each accepted token, in constant
// time. It compares digests, so neither a token's content nor its length leaks through
// timing, and it compares with every token, so neither does which one matched.
func authorized(r *http.Request, tokens []string) bool {
	scheme, given, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	presented := sha256.Sum256([]byte(strings.TrimSpace(given)))
	match := 0
	for _, token := range tokens {
		accepted := sha256.Sum256([]byte(token))
		match |= subtle.ConstantTimeCompare(presented[:], accepted[:])
	}
	return match == 1
}

// authenticate wraps a handler with the bearer token check.
func authenticate(tokens TokenSource, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted, err := tokens()
		if err != nil {
			problemUnavailable.with("The escalation token is not available; the runner refuses calls until it is.", "").write(w)
			return
		}
		if !authorized(r, accepted) {
			problemUnauthorized.with("Send the gateway's escalation token as Authorization: Bearer <token>.", "").write(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}
