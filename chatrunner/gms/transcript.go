package gms

import "sync"

// Transcript follows one chat's transcript position and drops duplicates: servers and
// proxies may re-send the last event, and may leave out nextPosition. It is safe for
// concurrent use.
type Transcript struct {
	mu sync.Mutex
	// next is the transcriptPosition to send next; it never goes back.
	next int
	// seen are the indexes accepted at or above next (those below next are dropped anyway).
	seen map[int]struct{}
}

// NewTranscript returns a transcript at position 1.
func NewTranscript() *Transcript {
	return &Transcript{next: 1, seen: map[int]struct{}{}}
}

// Position returns the transcriptPosition to send next.
func (t *Transcript) Position() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

// Accept returns the new events of r in their order: it drops those whose index is below
// Position or was accepted before, and keeps every event without index (0). It then
// advances Position to r's nextPosition when present, otherwise past the highest index
// accepted; Position never goes back. A statusCode 1 answer is ignored whole: its fields
// are not trustworthy.
func (t *Transcript) Accept(r *Response) []Event {
	if r == nil || r.StatusCode == StatusRecoverable {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var events []Event
	highest := 0
	for _, e := range r.Messages {
		if e.Index != 0 {
			if e.Index < t.next {
				continue
			}
			if _, dup := t.seen[e.Index]; dup {
				continue
			}
			t.seen[e.Index] = struct{}{}
			highest = max(highest, e.Index)
		}
		events = append(events, e)
	}
	next := t.next
	if r.NextPosition != nil {
		next = max(next, *r.NextPosition)
	} else if highest > 0 {
		next = max(next, highest+1)
	}
	if next != t.next {
		t.next = next
		for i := range t.seen {
			if i < next {
				delete(t.seen, i)
			}
		}
	}
	return events
}
