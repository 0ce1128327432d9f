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
type inFlightLimit struct {
	rate float64       // polls due per second
	est  time.Duration // smoothed time a poll takes; 0 until the first period ends
	sum  time.Duration // this period's polls
	n    int
}

// Limit tuning.
//
// inFlightHeadroom covers the polls that come due together (the scheduler's batches, the
// phases of chats that happen to be close) and a poll time that varies around its mean.
// minInFlight is the bound when few chats poll fast: enough for a batch at the scheduler's
// busiest, and it costs nothing while unused. riseWeight and fallWeight are the weight of
// a period's mean in the estimate when above it and below it: with the 2 s reap period, a
// lasting rise shows half within about three seconds, a fall three quarters at once (a
// bound four times the need absorbs the rest). A poll running longer than stuckFactor × the estimate (and at least
// minStuckAfter) no longer counts against the bound: a Genesys node that never answers
// must not hold the slots of every other chat until its requests time out. A poll's time
// counts at most that long, so the few that hang do not inflate the estimate either.
const (
	inFlightHeadroom = 4
	minInFlight      = 64
	initialPollTime  = 100 * time.Millisecond
	riseWeight       = 0.35
	fallWeight       = 0.75
	stuckFactor      = 8
	minStuckAfter    = 250 * time.Millisecond
)

// observe records the time a poll held its poller.
func (l *inFlightLimit) observe(d time.Duration) {
	l.sum += min(d, l.stuckAfter())
	l.n++
}

// fold ends a period: its mean moves the estimate. A period without polls leaves it.
func (l *inFlightLimit) fold() {
	if l.n == 0 {
		return
	}
	mean := l.sum / time.Duration(l.n)
	switch {
	case l.est == 0:
		l.est = mean
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
