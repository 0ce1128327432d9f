package chat

import (
	"sync"
	"time"
)

// lagWindow is how long a poll's lateness counts towards the runner's lag.
const lagWindow = 10 * time.Second

// lagTracker keeps the largest poll lateness of the last lagWindow (two half-window
// buckets): how far behind its schedule a runner short of CPU has fallen.
type lagTracker struct {
	mu       sync.Mutex
	start    time.Time // of the current bucket
	cur, old time.Duration
}

// observe records a poll's lateness at now.
func (l *lagTracker) observe(now time.Time, late time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	l.cur = max(l.cur, late)
}

// lag returns the largest lateness of the last lagWindow at now.
func (l *lagTracker) lag(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	return max(l.cur, l.old)
}

// roll moves to a new bucket every half window; called with l.mu held.
func (l *lagTracker) roll(now time.Time) {
	switch d := now.Sub(l.start); {
	case d >= lagWindow:
		l.start, l.cur, l.old = now, 0, 0
	case d >= lagWindow/2:
		l.start, l.old, l.cur = now, l.cur, 0
	}
}

// shedLag is how far behind its polls a runner may fall before it refuses new
// escalations (503 with Retry-After, like a full runner): one polling interval. A chat's
// gap between two polls is the interval plus how much later the second started than the
// first, so at this lag the gaps reach about two intervals, and the runner stops taking
// chats a whole interval before any gap reaches three (the bound make bench checks with the
// runner held to half a core), and far below Genesys' idle timeouts. A poll late by a
// moment (a GC pause, a CPU quota's throttling, some tens of milliseconds) sheds nothing.
func shedLag(interval time.Duration) time.Duration { return interval }

// shedRetryAfter is the Retry-After of an escalation shed because the runner is behind.
const shedRetryAfter = 10 * time.Second
