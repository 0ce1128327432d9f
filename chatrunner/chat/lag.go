package chat

import (
	"sync"
	"time"
)

// lagWindow is how long a poll's lateness counts towards the runner's lag.
const lagWindow = 10 * time.Second

// lagTracker keeps, over the last lagWindow (two half-window buckets), the largest poll
// lateness (how far behind its schedule a runner short of CPU has fallen) and how many
// polls started, and how many of them later than a tenth of the interval (lateShare).
type lagTracker struct {
	mu       sync.Mutex
	start    time.Time // of the current bucket
	cur, old lagBucket
}

type lagBucket struct {
	max         time.Duration
	polls, late int
}

// observe records a poll's lateness at now, for a polling interval.
func (l *lagTracker) observe(now time.Time, late, interval time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	l.cur.max = max(l.cur.max, late)
	l.cur.polls++
	if late > lateAfter(interval) {
		l.cur.late++
	}
}

// lag returns the largest lateness of the last lagWindow at now.
func (l *lagTracker) lag(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	return max(l.cur.max, l.old.max)
}

// behind returns the lag at now, and whether the runner is too far behind its polls to
// take a new chat: more than lateShare of the last lagWindow's polls (and at least
// minLatePolls) started over a tenth of the interval late, or one started over an interval
// late. A chat's gap between two polls is the interval plus how much later the second
// started than the first (and when a poll is still in flight at its next turn, the time
// it took), so a runner shedding here keeps the gaps of its chats well below two
// intervals, and a whole interval below three, the bound make bench checks with the
// runner held to half a core. The share, rather than the largest lateness, sheds as soon
// as lateness spreads, which must be early: latency explodes at the knee (measured at half
// a core: lateness went from 0.26 s to 1.6 s within three seconds, and some chats idled
// out, with a quarter interval as the bar), and each new chat's setup (Request Chat, its
// record, its events) costs more than many polls. A lone late poll (a GC pause, a CPU
// quota's throttling) sheds nothing.
func (l *lagTracker) behind(now time.Time, interval time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	lag := max(l.cur.max, l.old.max)
	polls, late := l.cur.polls+l.old.polls, l.cur.late+l.old.late
	return lag, lag > shedInterval(interval) || (late >= minLatePolls && float64(late) > lateShare*float64(polls))
}

// shedInterval is the interval the shedding bars are measured against: the polling
// interval, but no shorter than minShedInterval, the shortest the resource allows
// (pollingIntervalSeconds is 1 at least). The engine's tests poll every 20 ms, where a
// bar of 2 ms shed escalations at a scheduler's hiccup on a busy machine (a test failed
// in CI with a poll 41 ms late).
func shedInterval(interval time.Duration) time.Duration { return max(interval, minShedInterval) }

// minShedInterval is the shortest polling interval the GenesysGateway resource allows.
const minShedInterval = time.Second

// roll moves to a new bucket every half window; called with l.mu held.
func (l *lagTracker) roll(now time.Time) {
	switch d := now.Sub(l.start); {
	case d >= lagWindow:
		l.start, l.cur, l.old = now, lagBucket{}, lagBucket{}
	case d >= lagWindow/2:
		l.start, l.old, l.cur = now, l.cur, lagBucket{}
	}
}

// Shedding: a runner refuses new escalations (503 with Retry-After, like a full runner)
// while more than lateShare of its polls, and at least minLatePolls, started later than
// lateAfter(interval), or one started more than an interval late (lagTracker.behind).
const (
	lateShare    = 0.01
	minLatePolls = 20
)

// lateAfter is how late a poll may start before it counts as late: a tenth of the
// interval (100 ms at 1 s; a CPU quota's throttling delays polls by up to its period, 100
// ms by default, but rarely 1% of them).
func lateAfter(interval time.Duration) time.Duration { return shedInterval(interval) / 10 }

// shedRetryAfter is the Retry-After of an escalation shed because the runner is behind.
const shedRetryAfter = 10 * time.Second
