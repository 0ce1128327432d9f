package chat

import "time"

// admission paces new chats after the runner shed escalations for being behind its polls.
// Lateness shows a runner's limit only once it is past it, a few seconds late, and each
// new chat's setup costs more than many polls: taking the full offered rate as soon as the
// lag cleared let a wave in before the lateness spread again (make bench-overload at half a
// core, 300 escalations/s: 660 chats in two seconds, 2,942 → 3,604, and the longest gap
// between two polls of one chat reached 2.92 s, 80 ms short of the simulator's idle
// timeout). So the runner takes rampStart new chats in the first second after its last shed
// and twice as many each second after, as TCP's slow start does, for rampSeconds; then
// pacing ends. Called with Manager.mu held.
type admission struct {
	shedAt time.Time // the last escalation shed for being behind; zero when pacing is over
	second time.Time // the start of the current second
	taken  int       // new chats taken in it
}

// Pacing: rampStart new chats in the first second, twice as many in each next, for
// rampSeconds (10, 20, ... 1,280), then no pacing. rampStart is a few hundred polls' work,
// which a runner that just caught up has to spare.
const (
	rampStart   = 10
	rampSeconds = 8
	// pacingRetryAfter is the Retry-After of an escalation refused by the pacing: the
	// allowance grows every second.
	pacingRetryAfter = time.Second
)

// shed records an escalation shed at now for being behind.
func (a *admission) shed(now time.Time) { a.shedAt = now }

// allow reports whether a new chat may be taken at now, and counts it if so.
func (a *admission) allow(now time.Time) bool {
	if a.shedAt.IsZero() {
		return true
	}
	steps := int(now.Sub(a.shedAt) / time.Second)
	if steps >= rampSeconds {
		a.shedAt = time.Time{}
		return true
	}
	if now.Sub(a.second) >= time.Second || now.Before(a.second) {
		a.second, a.taken = now, 0
	}
	if a.taken >= rampStart<<steps {
		return false
	}
	a.taken++
	return true
}
