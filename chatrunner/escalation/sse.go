package escalation

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// streamWriteTimeout bounds each write of an event stream: a reader that stops reading
// (its TCP window full) loses its stream instead of holding the runner's goroutine and
// slot for ever.
const streamWriteTimeout = 30 * time.Second

// wantsStream reports whether a call asks for server-sent events (Accept:
// text/event-stream); any other Accept gets the JSON long poll.
func wantsStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// sseWriter writes server-sent events, flushing each, with a deadline per write.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE sends the stream's headers and an opening comment at once, so that the reader
// (and any proxy between) sees the stream open before the first event.
func startSSE(w http.ResponseWriter, opening string) (*sseWriter, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	// nginx and similar proxies buffer answers unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	return s, s.comment(opening)
}

// event writes one event: id, event and data, the data JSON on one line (JSON encoding
// escapes line breaks inside strings, so the data needs no splitting).
func (s *sseWriter) event(id, kind string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.send(fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", id, kind, raw))
}

// comment writes a comment line, which readers ignore: the heartbeat that keeps idle
// connections open through proxies and load balancers.
func (s *sseWriter) comment(text string) error { return s.send(": " + text + "\n\n") }

// end clears the write deadline: the server sets none of its own, and a keep-alive
// connection's next call must not inherit the stream's.
func (s *sseWriter) end() { _ = s.rc.SetWriteDeadline(time.Time{}) }

func (s *sseWriter) send(text string) error {
	// A writer without deadlines (a test recorder) still streams; only the bound is lost.
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := s.w.Write([]byte(text)); err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamSlots bounds the streams a runner serves at once: each holds a connection and a
// goroutine for as long as its reader stays.
type streamSlots chan struct{}

// acquire takes a slot without waiting; false when all are taken.
func (s streamSlots) acquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s streamSlots) release() { <-s }

// streamsRetryAfter is the Retry-After of a stream refused at the limit: streams end as
// their chats do, so a slot frees up soon on a busy runner.
const streamsRetryAfter = 5 * time.Second

// refuseStream answers a stream over the runner's limit.
func (a *server) refuseStream(w http.ResponseWriter) {
	p := problemUnavailable.with(fmt.Sprintf("This runner serves at most %d event streams at once; retry later, or use the long poll.", cap(a.streams)), "")
	p.RetryAfter = streamsRetryAfter
	p.write(w)
}
