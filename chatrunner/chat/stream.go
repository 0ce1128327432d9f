package chat

// Tail is what a stream of a chat's events reads next.
type Tail struct {
	// Events are up to maxEventsPerRead events after the seq asked for, in order.
	Events []Event
	// Over says the chat is in a final state: no event follows its terminal one.
	Over bool
	// Grew closes on the chat's next event.
	Grew <-chan struct{}
	// Gone closes when the chat leaves this runner (a hand-over): the stream ends, and
	// the reader's reconnection reaches the new owner.
	Gone <-chan struct{}
}

// Tail returns a chat's events after a seq without waiting. A server-sent event stream
// waits on Grew itself, for as long as its reader stays: the long poll's Events caps its
// wait, and a stream must not return to the reader between events to wait again.
func (m *Manager) Tail(id string, after int64) (Tail, error) {
	c, err := m.get(id)
	if err != nil {
		return Tail{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	evs, grew := c.events.after(after)
	return Tail{Events: evs, Over: terminal(c.state), Grew: grew, Gone: c.gone}, nil
}

// Stopping closes when the manager stops running (nil before Run: it never closes), so
// that open streams end and the API server can shut down instead of waiting for them.
func (m *Manager) Stopping() <-chan struct{} {
	select {
	case <-m.running:
		return m.base.Done()
	default:
		return nil
	}
}

// TerminalKind reports whether an event kind is a chat's last event.
func TerminalKind(kind string) bool {
	return kind == KindEnded || kind == KindTransferred || kind == KindFailed
}
