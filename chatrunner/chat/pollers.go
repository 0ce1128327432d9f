package chat

import (
	"runtime"
	"sync"
	"time"
)

// pollers runs polls on reused goroutines instead of a new goroutine per poll: a new
// goroutine's stack grows (and is copied) again through net/http on every poll, and
// creating and scheduling it costs as much as a small request.
//
// The pool is elastic, not fixed: a poll blocks on the network, and with a slow or
// failing Genesys (10 s attempt timeouts, retry waits of up to 30 s) nearly every chat may
// have a poll in flight at once. A fixed pool smaller than the chat count would then
// starve the chats behind it; so a job that finds no idle poller starts a new one, up to
// max. The number of polls in flight is bounded anyway by the chat count, since a chat
// whose previous poll is in flight defers its turn to that poll's poller. In steady state the pool is as large
// as the polls in flight at the busiest instant (rate × latency, a few dozen for 10,000
// chats a second answered in a millisecond or two): idle pollers are kept on a stack, the
// most recently used on top, and those never taken from the bottom of the stack for a
// whole reap period are ended, keeping at least min.
type pollers struct {
	mu      sync.Mutex
	idle    []*poller // most recently used last
	low     int       // the fewest idle pollers since the last reap
	alive   int
	stopped bool
	min     int
	max     int
	// run runs a job: runPoll, or a test's.
	run func(pollJob)
}

// poller is one reused goroutine; it waits on its own channel.
type poller struct {
	jobs chan pollJob
}

// pollJob is one chat's poll due at a time.
type pollJob struct {
	m   *Manager
	c   *chat
	due time.Time
}

// Pool bounds: at least minPollersPerProc × GOMAXPROCS pollers stay; at most maxPollers
// polls run at once (more than the 10,000 chats a runner carries at most). Idle pollers
// beyond the minimum end after about pollerReapPeriod unused.
const (
	minPollersPerProc = 8
	maxPollers        = 16384
	pollerReapPeriod  = 30 * time.Second
)

func newPollers() *pollers {
	return &pollers{min: minPollersPerProc * runtime.GOMAXPROCS(0), max: maxPollers, run: runPoll}
}

// runPoll polls a job's chat.
func runPoll(j pollJob) { j.m.poll(j.c, j.due) }

// submit runs j on an idle poller, or on a new one. It returns false, without running j,
// when the pool is stopped or max pollers are busy: the chat skips its turn.
func (p *pollers) submit(j pollJob) bool {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return false
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.low = min(p.low, n-1)
		p.mu.Unlock()
		w.jobs <- j // buffered: never blocks an idle poller's sender
		return true
	}
	if p.alive >= p.max {
		p.mu.Unlock()
		return false
	}
	p.alive++
	p.mu.Unlock()
	w := &poller{jobs: make(chan pollJob, 1)}
	w.jobs <- j
	go p.work(w)
	return true
}

// work runs a poller's jobs until it is reaped or the pool stops.
func (p *pollers) work(w *poller) {
	for j := range w.jobs {
		p.run(j)
		if !p.release(w) {
			return
		}
	}
}

// release puts a poller that finished its job back on the idle stack; false when the
// pool stopped and the poller should end.
func (p *pollers) release(w *poller) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		p.alive--
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// reap ends the idle pollers that no job took since the last reap (the bottom of the idle
// stack), keeping at least min pollers alive.
func (p *pollers) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(p.low, len(p.idle), max(p.alive-p.min, 0))
	for i := range n {
		close(p.idle[i].jobs)
	}
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.alive -= n
	p.low = len(p.idle)
}

// stop ends every poller once its poll in flight, if any, returns; later submits fail.
func (p *pollers) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for _, w := range p.idle {
		close(w.jobs)
	}
	p.alive -= len(p.idle)
	p.idle = nil
}

// size is the number of live pollers and of idle ones.
func (p *pollers) size() (alive, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive, len(p.idle)
}
