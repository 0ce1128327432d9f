package escalation

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

// APIObserver learns of the escalation API's calls, by route pattern (RouteOf) and HTTP
// status code; *metrics.API implements it. Calls must not block.
type APIObserver interface {
	// Served tells of a call that ended, and how long it took; forwarded tells a call
	// that another runner forwarded to this one.
	Served(route string, code int, forwarded bool, d time.Duration)
	// StreamOpened tells of an event stream (server-sent events) whose head was written;
	// StreamClosed of its end. A stream is never Served: its length is its reader's.
	StreamOpened(route string, code int, forwarded bool)
	StreamClosed(route string)
}

// Route patterns of the escalation API, the values RouteOf returns.
const (
	RouteEscalate     = "POST /v1/chats"
	RouteGetChat      = "GET /v1/chats/{id}"
	RouteCloseChat    = "DELETE /v1/chats/{id}"
	RouteMessages     = "POST /v1/chats/{id}/messages"
	RouteTyping       = "POST /v1/chats/{id}/typing"
	RoutePresent      = "POST /v1/chats/{id}/present"
	RouteEvents       = "GET /v1/chats/{id}/events"
	RouteUploadFile   = "POST /v1/chats/{id}/files"
	RouteGetFile      = "GET /v1/chats/{id}/files/{fileId}"
	RouteConversation = "GET /v1/conversations/{id}"
	RouteAllEvents    = "GET /v1/events"
	RouteOpenAPI      = "GET /v1/openapi.yaml"
	// RouteOther is every other call: an unknown path, or a method a path does not serve.
	RouteOther = "other"
)

// RouteOf is the route pattern of a call: one of the Route constants, never a chat or
// conversation id, so a bounded label value.
func RouteOf(r *http.Request) string {
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(seg) < 2 || seg[0] != "v1" || slices.Contains(seg, "") {
		return RouteOther
	}
	var route string
	switch {
	case len(seg) == 2:
		route = pick(seg[1], "chats", RouteEscalate, "events", RouteAllEvents, "openapi.yaml", RouteOpenAPI)
	case len(seg) == 3 && seg[1] == "chats":
		route = pick(r.Method, http.MethodGet, RouteGetChat, http.MethodDelete, RouteCloseChat)
	case len(seg) == 3 && seg[1] == "conversations":
		route = RouteConversation
	case len(seg) == 4 && seg[1] == "chats":
		route = pick(seg[3], "messages", RouteMessages, "typing", RouteTyping, "present", RoutePresent,
			"events", RouteEvents, "files", RouteUploadFile)
	case len(seg) == 5 && seg[1] == "chats" && seg[3] == "files":
		route = RouteGetFile
	}
	if route == "" || !strings.HasPrefix(route, r.Method+" ") {
		return RouteOther
	}
	return route
}

// Instrument wraps the escalation API (NewHandler) so that o learns of every call: its
// route, status code and duration; event streams count when their head is written and
// are not timed. A nil o returns h.
func Instrument(h http.Handler, o APIObserver) http.Handler {
	if o == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route, forwarded := RouteOf(r), r.Header.Get(forwardedHeader) != ""
		mw := &meteredWriter{ResponseWriter: w}
		mw.onStream = func(code int) { o.StreamOpened(route, code, forwarded) }
		defer func() {
			switch {
			case mw.stream:
				o.StreamClosed(route)
			case mw.code == 0 && !mw.done:
				// The handler panicked (a forwarded call cut short) before answering: the
				// connection is dropped without a status (code 0).
				o.Served(route, 0, forwarded, time.Since(start))
			default:
				// A handler that wrote nothing answered 200.
				o.Served(route, cmp.Or(mw.code, http.StatusOK), forwarded, time.Since(start))
			}
		}()
		h.ServeHTTP(mw, r)
		mw.done = true
	})
}

// meteredWriter records a call's status code and whether it is an event stream. It
// unwraps for http.ResponseController (write deadlines, flushes of streams).
type meteredWriter struct {
	http.ResponseWriter
	code     int
	stream   bool
	done     bool
	onStream func(code int)
}

func (m *meteredWriter) WriteHeader(code int) {
	if m.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		m.code = code
		if strings.HasPrefix(m.Header().Get("Content-Type"), "text/event-stream") {
			m.stream = true
			m.onStream(code)
		}
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *meteredWriter) Write(b []byte) (int, error) {
	if m.code == 0 {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(b)
}

// FlushError flushes (http.ResponseController); a flush writes the head first.
func (m *meteredWriter) FlushError() error {
	if m.code == 0 {
		m.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(m.ResponseWriter).Flush()
}

// Flush is http.Flusher, for code that asserts it.
func (m *meteredWriter) Flush() { _ = m.FlushError() }

// Unwrap gives http.ResponseController the underlying writer.
func (m *meteredWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// pick returns the value paired with key in pairs (key, value, key, value…), "" when none:
// a lookup without building a map on every call.
func pick(key string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == key {
			return pairs[i+1]
		}
	}
	return ""
}
