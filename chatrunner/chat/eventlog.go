package chat

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// maxEventsPerRead bounds one read of a chat's events.
const maxEventsPerRead = 100

// eventLog is a chat's agent-side events in order, with a broadcast to long polls. Its
// methods are called with the chat's lock held, but for wait.
type eventLog struct {
	events []Event
	// grew is closed and replaced whenever an event is appended.
	grew chan struct{}
}

func newEventLog() eventLog { return eventLog{grew: make(chan struct{})} }

// append numbers an event and wakes the readers.
func (l *eventLog) append(e Event) {
	e.Seq = int64(len(l.events) + 1)
	l.events = append(l.events, e)
	close(l.grew)
	l.grew = make(chan struct{})
}

// next returns the seq the next event gets.
func (l *eventLog) next() int64 { return int64(len(l.events)) + 1 }

// after returns up to maxEventsPerRead events with seq > n, and the channel that closes on
// the next append.
func (l *eventLog) after(n int64) ([]Event, <-chan struct{}) {
	if n < 0 {
		n = 0
	}
	if n >= int64(len(l.events)) {
		return nil, l.grew
	}
	end := min(int64(len(l.events)), n+maxEventsPerRead)
	return append([]Event(nil), l.events[n:end]...), l.grew
}

// waitFor waits until grew closes, wait passes, gone closes or ctx ends; it reports
// whether grew closed.
func waitFor(ctx context.Context, clk clock.Clock, grew, gone <-chan struct{}, wait time.Duration) bool {
	if wait <= 0 {
		return false
	}
	t := clk.NewTimer(wait)
	defer t.Stop()
	select {
	case <-grew:
		return true
	case <-t.C():
	case <-gone:
	case <-ctx.Done():
	}
	return false
}
