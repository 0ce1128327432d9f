package gmssim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

const (
	// maxBody bounds a Chat API request body.
	maxBody = 10 << 20
	// maxMemory is the part of a multipart body kept in memory.
	maxMemory = 1 << 20
	// initialAlias is the alias of new chats.
	initialAlias = 117
)

// errBadForm reports a request body that does not parse.
var errBadForm = errors.New("the form body does not parse")

// parseForm parses a urlencoded or multipart body of at most limit bytes, and the query,
// into r.Form. A multipart body's files beyond maxMemory go to temporary files.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxMemory); err != nil {
			return fmt.Errorf("%w: multipart: %w", errBadForm, err)
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: %w", errBadForm, err)
	}
	return nil
}

// authorized reports whether r carries the Chat API's basic credentials, if any are set.
func (s *Simulator) authorized(r *http.Request) bool {
	if valid := s.opts.BearerToken; valid != nil {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !valid(token) {
			return false
		}
	}
	want := s.auth.Load()
	if want == nil {
		return true
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	for _, c := range *want {
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(c.Username))
		passwordOK := subtle.ConstantTimeCompare([]byte(password), []byte(c.Password))
		if userOK&passwordOK == 1 {
			return true
		}
	}
	return false
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorResponse is an envelope with one error of code and advice.
func errorResponse(statusCode, code int, advice string) gms.Response {
	return gms.Response{StatusCode: statusCode, Errors: []gms.APIError{{Code: code, Advice: advice}}}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// newChatID returns an unused chat id. Callers hold s.mu.
func (s *Simulator) newChatID() string {
	for {
		id := strings.ToUpper(randomHex(8))
		if _, taken := s.chats[id]; !taken {
			return id
		}
	}
}

// newSecureKey returns a secure key of 16 or 24 hex digits.
func newSecureKey() string {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return randomHex(8 + int(b[0]%2)*4)
}

// newAlias returns an alias no chat had before. Callers hold s.mu.
func (s *Simulator) newAlias() string {
	s.aliasSeq++
	return strconv.Itoa(s.aliasSeq)
}
