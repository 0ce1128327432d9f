package gmssim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// FaultKind is what an injected fault does to the requests it matches.
type FaultKind string

// The fault kinds.
const (
	// FaultHTTPStatus answers with Fault.HTTPStatus (default 503) and a JSON error body:
	// statusCode 1 for 408, 429 and 5xx, else 2; errors Fault.Errors or {status, status text}.
	FaultHTTPStatus FaultKind = "httpStatus"
	// FaultDelay waits Fault.Delay (real time, until the request's context ends) before
	// answering normally.
	FaultDelay FaultKind = "delay"
	// FaultReset closes the TCP connection without an answer.
	FaultReset FaultKind = "reset"
	// FaultStatus1 answers HTTP 200, statusCode 1 with errors, and has no side effect.
	FaultStatus1 FaultKind = "status1"
	// FaultStatus2 answers HTTP 200, statusCode 2 with Fault.Errors (default 249 "Media server
	// was not able to execute request"); with Fault.ChatEnded the chat really ends (and the
	// answer says chatEnded). Without it the answer has no chatEnded and the chat goes on:
	// Genesys' docs say only that the chat "may have ended" on a statusCode 2, so a client
	// must look (a Refresh answers normally once the fault is consumed).
	FaultStatus2 FaultKind = "status2"
	// FaultMalformedJSON answers HTTP 200 with a truncated JSON body, and has no side effect.
	FaultMalformedJSON FaultKind = "malformedJSON"
	// FaultAliasChange changes the chat's alias (to Fault.Alias or a new generated one) once the
	// request passed the session checks; the answer carries the new alias.
	FaultAliasChange FaultKind = "aliasChange"
	// FaultOmitNextPosition makes the answer leave out nextPosition.
	FaultOmitNextPosition FaultKind = "omitNextPosition"
	// FaultDuplicateLast makes a transcript answer (Refresh, Send) re-send the last event
	// already delivered (index < transcriptPosition) before the new ones.
	FaultDuplicateLast FaultKind = "duplicateLast"
	// FaultLostAnswer processes the request (every side effect happens: a Send's message is
	// in the transcript) and then closes the connection without answering, as a proxy's
	// timeout or a reset after GMS did the work would: the client cannot tell whether it
	// happened. An assumption: nothing in Genesys' docs, but what any network can do.
	FaultLostAnswer FaultKind = "lostAnswer"
)

// Default errors of the status faults.
var (
	defaultStatus1Errors = []gms.APIError{{Code: 102, Advice: "Chat Server is temporarily unavailable, retry later"}}
	defaultStatus2Errors = []gms.APIError{{Code: 249, Advice: "Media server was not able to execute request"}}
)

func (k FaultKind) valid() bool {
	switch k {
	case FaultHTTPStatus, FaultDelay, FaultReset, FaultStatus1, FaultStatus2, FaultMalformedJSON,
		FaultAliasChange, FaultOmitNextPosition, FaultDuplicateLast, FaultLostAnswer:
		return true
	}
	return false
}

// Fault is a misbehaviour injected into the Chat API. In JSON its Delay is a Go duration
// string ("250ms").
type Fault struct {
	// Kind is what the fault does.
	Kind FaultKind `json:"kind"`
	// Op limits the fault to one operation; "" matches any.
	Op gms.Operation `json:"op,omitempty"`
	// ChatID limits the fault to one chat; "" matches any (and Request Chat).
	ChatID string `json:"chatId,omitempty"`
	// Times is how many matching requests the fault hits; 0 until cleared.
	Times int `json:"times,omitempty"`
	// HTTPStatus is FaultHTTPStatus's status; default 503.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Delay is FaultDelay's wait.
	Delay time.Duration `json:"delay,omitempty"`
	// Errors replace the default errors of FaultHTTPStatus, FaultStatus1 and FaultStatus2.
	Errors []gms.APIError `json:"errors,omitempty"`
	// ChatEnded makes FaultStatus2 end the chat.
	ChatEnded bool `json:"chatEnded,omitempty"`
	// Alias is FaultAliasChange's new alias; "" generates one.
	Alias string `json:"alias,omitempty"`
}

// faultJSON is Fault without its methods.
type faultJSON Fault

// MarshalJSON writes Delay as a Go duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	out := struct {
		faultJSON
		Delay string `json:"delay,omitempty"`
	}{faultJSON: faultJSON(f)}
	if f.Delay != 0 {
		out.Delay = f.Delay.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads Delay as a Go duration string.
func (f *Fault) UnmarshalJSON(data []byte) error {
	in := struct {
		*faultJSON
		Delay string `json:"delay,omitempty"`
	}{faultJSON: (*faultJSON)(f)}
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decoding a fault: %w", err)
	}
	f.Delay = 0
	if in.Delay != "" {
		d, err := time.ParseDuration(in.Delay)
		if err != nil {
			return fmt.Errorf("decoding a fault's delay: %w", err)
		}
		f.Delay = d
	}
	return nil
}

// faultEntry is an injected fault and how many hits it has left (0: unlimited).
type faultEntry struct {
	id    int
	fault Fault
	left  int
}

// Inject adds a fault and returns its id. Faults match in injection order; the first match
// applies and is consumed.
func (s *Simulator) Inject(f Fault) int {
	f.Errors = append([]gms.APIError(nil), f.Errors...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultSeq++
	s.faults = append(s.faults, &faultEntry{id: s.faultSeq, fault: f, left: f.Times})
	return s.faultSeq
}

// ClearFaults removes every fault.
func (s *Simulator) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// activeFault is a fault with its id, for the control API.
type activeFault struct {
	ID int
	Fault
	// Left is how many hits the fault has left; 0 unlimited.
	Left int
}

// MarshalJSON adds the id and hits left to the fault's JSON.
func (a activeFault) MarshalJSON() ([]byte, error) {
	f, err := json.Marshal(a.Fault)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(f, &m); err != nil {
		return nil, err
	}
	m["id"] = a.ID
	if a.Left > 0 {
		m["left"] = a.Left
	}
	return json.Marshal(m)
}

func (s *Simulator) activeFaults() []activeFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]activeFault, 0, len(s.faults))
	for _, e := range s.faults {
		out = append(out, activeFault{ID: e.id, Fault: e.fault, Left: e.left})
	}
	return out
}

// matchFault consumes and returns the first fault matching op and chatID. Callers hold s.mu.
func (s *Simulator) matchFault(op gms.Operation, chatID string) (Fault, bool) {
	for i, e := range s.faults {
		if e.fault.Op != "" && e.fault.Op != op {
			continue
		}
		if e.fault.ChatID != "" && e.fault.ChatID != chatID {
			continue
		}
		if e.left > 0 {
			e.left--
			if e.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return e.fault, true
	}
	return Fault{}, false
}

// answerFault answers a request with a fault that answers at once, and reports whether it did.
func (s *Simulator) answerFault(w http.ResponseWriter, f Fault, chatID, userID string) bool {
	switch f.Kind {
	case FaultHTTPStatus:
		status := f.HTTPStatus
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		code := gms.StatusUnrecoverable
		if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
			code = gms.StatusRecoverable
		}
		resp := errorResponse(code, status, http.StatusText(status))
		if len(f.Errors) > 0 {
			resp.Errors = f.Errors
		}
		writeJSON(w, status, resp)
	case FaultReset:
		resetConnection(w)
	case FaultStatus1:
		errs := f.Errors
		if len(errs) == 0 {
			errs = defaultStatus1Errors
		}
		writeJSON(w, http.StatusOK, gms.Response{StatusCode: gms.StatusRecoverable, ChatID: chatID, UserID: userID, Errors: errs})
	case FaultStatus2:
		errs := f.Errors
		if len(errs) == 0 {
			errs = defaultStatus2Errors
		}
		resp := gms.Response{StatusCode: gms.StatusUnrecoverable, ChatID: chatID, UserID: userID, Errors: errs}
		if f.ChatEnded {
			resp.ChatEnded = true
			s.mu.Lock()
			if c, ok := s.chats[chatID]; ok {
				resp.Alias = c.alias
				c.end()
				c.endDelivered = true
			}
			s.mu.Unlock()
		}
		writeJSON(w, http.StatusOK, resp)
	case FaultMalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, `{"statusCode":0,"chatId":%q,"messages":[{"from":{"nickname":"`, chatID)
	default:
		return false
	}
	return true
}

// resetConnection closes the request's connection without an answer (RST where possible).
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		if tcp, ok := nc.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	} else if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// sleep waits d or until ctx ends, and reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errInvalidFault reports a fault the control API refuses.
var errInvalidFault = errors.New("invalid fault")

func validateFault(f Fault) error {
	if !f.Kind.valid() {
		return fmt.Errorf("%w: unknown kind %q", errInvalidFault, f.Kind)
	}
	if f.Times < 0 {
		return fmt.Errorf("%w: times must not be negative", errInvalidFault)
	}
	if f.Kind == FaultHTTPStatus && f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599) {
		return fmt.Errorf("%w: httpStatus %d out of range", errInvalidFault, f.HTTPStatus)
	}
	if f.Delay < 0 {
		return fmt.Errorf("%w: delay must not be negative", errInvalidFault)
	}
	return nil
}

// discardWriter takes an answer that will never be sent (FaultLostAnswer).
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
