package escalation

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// Defaults of the event streams.
const (
	// defaultHeartbeat keeps a quiet stream open through proxies that drop idle
	// connections (commonly after 30 to 60 s).
	defaultHeartbeat = 15 * time.Second
	// defaultMaxStreams bounds the streams one runner serves at once.
	defaultMaxStreams = 512
)

// stream serves GET /v1/chats/{id}/events with Accept: text/event-stream: the chat's events
// as server-sent events (id: seq, event: kind, data: the event's JSON), from the seq after
// Last-Event-ID (or the after query), until the chat's terminal event has been sent; 204
// when resumed after it.
//
// It holds one page of events at a time and reads the next by seq from the chat's log, so
// a slow reader costs no memory: it only falls behind.
func (a *server) stream(w http.ResponseWriter, r *http.Request, id string) {
	after, ok := resumeSeq(r)
	if !ok {
		problemInvalid.with("Last-Event-ID (or after) must be a non-negative integer: the last seq read", "after").write(w)
		return
	}
	if !a.streams.acquire() {
		a.refuseStream(w)
		return
	}
	defer a.streams.release()
	tail, err := a.opts.Engine.Tail(id, after)
	if err != nil {
		a.fail(w, err)
		return
	}
	if len(tail.Events) == 0 && tail.Over {
		// Resumed after the terminal event: 204 is what tells an EventSource to stop
		// reconnecting.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sw, err := startSSE(w, "events of chat "+id)
	defer sw.end()
	if err != nil {
		return
	}
	heartbeat := time.NewTicker(a.opts.Heartbeat)
	defer heartbeat.Stop()
	stopping := a.opts.Engine.Stopping()
	for {
		for _, e := range tail.Events {
			if sw.event(strconv.FormatInt(e.Seq, 10), e.Kind, eventsOf([]chat.Event{e})[0]) != nil {
				return
			}
			after = e.Seq
			if chat.TerminalKind(e.Kind) {
				return
			}
		}
		if len(tail.Events) == 0 {
			if tail.Over {
				return // over without a terminal event: never, but never wait on it either
			}
			select {
			case <-tail.Grew:
			case <-heartbeat.C:
				if sw.comment("heartbeat") != nil {
					return
				}
			case <-r.Context().Done():
				return
			case <-stopping:
				return
			case <-tail.Gone:
				return // handed over: the reader reconnects and reaches the new owner
			}
		}
		if tail, err = a.opts.Engine.Tail(id, after); err != nil {
			return // forgotten after its retention: nothing more to send
		}
	}
}

// resumeSeq is the seq a stream resumes after: Last-Event-ID, which a reconnecting
// EventSource sends by itself, else the after query, else 0.
func resumeSeq(r *http.Request) (int64, bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}
