package chat

import (
	"math"
	"time"
)

// inFlightLimit sizes how many polls may be in flight at once by Little's law: polls due
// per second (chats / interval) times how long a poll holds its poller, with headroom. A
// fixed bound (the 2,048 connections the GMS transport keeps) let every poll that came due
// during a pause of Genesys, or of a machine short of CPU, start at once: each found no
// idle connection and dialled its own, the dials slowed everything further, and more
// polls piled up (make bench on a 2-core machine at 5,000 chats: 900 goroutines, then
// 7,900 within a second, 1,653 connections, 710 dials still connecting). Bounded by what
// the steady state needs, a pause queues polls in the pool instead, without a goroutine or
// a connection each, and they run on the connections already open once it ends.
//
// The time a poll takes is a mean over each reap period, smoothed across periods: it rises
// slowly, so that one pause moves it little while a Genesys that has become slower for good
// raises it within a few periods, and falls fast, so that the bound narrows again as soon
// as polls are quick (after a pause, or a ramp-up that kept a runner busy). Before the first
// period it is assumed long (initialPollTime), so a runner resuming thousands of chats
// starts with a wide bound and narrows it once it knows.
//
// A runner short of CPU is the exception: its polls take longer because they wait for
// the CPU, not for Genesys, and more of them in flight would only dial connections it has
// no CPU to serve. At half a core in make bench-overload the bound followed the slower
// polls from 127 to 2,048 within five seconds, 2,048 polls were in flight, 9,100
// goroutines, polls fell from 5,400 to 600 a second, and 3,197 chats idled out. The sign
// is the scheduler's own delay: it fires polls on time unless the runner waits for CPU
// (polls that wait in the pool for a slot are not late to it). While polls fire more than
// starvedAfter late on average, in the current or the last period, the estimate does not
// rise and no poll counts as stuck.
type inFlightLimit struct {
	rate float64       // polls due per second
	est  time.Duration // smoothed time a poll takes; 0 until the first period ends
	sum  time.Duration // this period's polls
	n    int
	// fired and firings are this period's delays of the scheduler in firing polls;
	// starved is whether the last period's mean delay passed starvedAfter.
	fired   time.Duration
	firings int
	starved bool
}

// Limit tuning.
//
// inFlightHeadroom covers the polls that come due together (the scheduler's batches, the
// phases of chats that happen to be close) and a poll time that varies around its mean.
// minInFlight is the bound when few chats poll fast: enough for a batch at the scheduler's
// busiest, and it costs nothing while unused. riseWeight and fallWeight are the weight of
// a period's mean in the estimate when above it and below it: with the 2 s reap period, a
// lasting rise shows half within about three seconds, a fall three quarters at once (a
// bound four times the need absorbs the rest). A poll running longer than stuckFactor ×
// the estimate (and at least minStuckAfter) no longer counts against the bound: a Genesys
// node that never answers must not hold the slots of every other chat until its requests
// time out. A poll's time counts at most that long, so the few that hang do not inflate
// the estimate either. starvedAfter is far above a healthy runner's mean firing delay
// (0.2–0.3 ms at 5,000 chats on two cores) and below a CPU quota's throttling (up to its
// 100 ms period).
const (
	inFlightHeadroom = 4
	minInFlight      = 64
	initialPollTime  = 100 * time.Millisecond
	riseWeight       = 0.35
	fallWeight       = 0.75
	stuckFactor      = 8
	minStuckAfter    = 250 * time.Millisecond
	starvedAfter     = 10 * time.Millisecond
)

// fire records how late the scheduler fired a poll.
func (l *inFlightLimit) fire(late time.Duration) {
	// A batch fires up to batchWindow early; a poll deferred past a long pause counts a
	// minute at most, so that the sum cannot overflow.
	l.fired += min(max(late, 0), time.Minute)
	l.firings++
}

// short reports whether the runner is short of CPU: its polls fire late, in the last
// period or in this one so far.
func (l *inFlightLimit) short() bool { return l.starved || l.firingLate() }

// firingLate reports whether this period's polls fired over starvedAfter late on average.
func (l *inFlightLimit) firingLate() bool {
	return l.firings > 0 && l.fired/time.Duration(l.firings) > starvedAfter
}

// observe records the time a poll held its poller.
func (l *inFlightLimit) observe(d time.Duration) {
	l.sum += min(d, l.stuckAfter())
	l.n++
}

// fold ends a period: its mean moves the estimate. A period without polls leaves it.
func (l *inFlightLimit) fold() {
	short := l.short()
	l.starved = l.firingLate()
	l.fired, l.firings = 0, 0
	if l.n == 0 {
		return
	}
	mean := l.sum / time.Duration(l.n)
	switch {
	case l.est == 0:
		l.est = mean
	case mean > l.est && short:
		// Waiting for CPU, not for Genesys: no rise.
	case mean > l.est:
		l.est += time.Duration(riseWeight * float64(mean-l.est))
	default:
		l.est += time.Duration(fallWeight * float64(mean-l.est))
	}
	l.est = max(l.est, 1) // 0 means no estimate yet
	l.sum, l.n = 0, 0
}

// pollTime is the estimated time a poll takes.
func (l *inFlightLimit) pollTime() time.Duration {
	if l.est == 0 {
		return initialPollTime
	}
	return l.est
}

// limit is how many polls may run at once: at least minInFlight, at most ceiling.
func (l *inFlightLimit) limit(ceiling int) int {
	n := math.Ceil(inFlightHeadroom * l.rate * l.pollTime().Seconds())
	if n >= float64(ceiling) {
		return ceiling
	}
	return min(ceiling, max(minInFlight, int(n)))
}

// stuckAfter is how long a poll runs before it no longer counts against the limit.
func (l *inFlightLimit) stuckAfter() time.Duration {
	return max(stuckFactor*l.pollTime(), minStuckAfter)
}
