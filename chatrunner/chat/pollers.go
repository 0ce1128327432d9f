package chat

import (
	"runtime"
	"sync"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// pollers runs polls on reused goroutines instead of a new goroutine per poll: a new
// goroutine's stack grows (and is copied) again through net/http on every poll, and
// creating and scheduling it costs as much as a small request.
//
// The pool is elastic: a poll blocks on the network, and with a slow Genesys many chats
// have a poll in flight at once, so a job that finds no idle poller starts a new one. In
// steady state the pool is as large as the polls in flight at the busiest instant (rate ×
// latency, a few dozen for 10,000 chats a second answered in a millisecond or two): idle
// pollers are kept on a stack, the most recently used on top, and those never taken from
// the bottom of the stack for a whole reap period are ended, keeping at least min.
//
// How many polls run at once is bounded by what the steady state needs (inFlightLimit),
// and never more than max, the connections the GMS transport keeps per host: more polls in
// flight than connections open dial a connection each, which is what a runner whose
// Genesys or CPU pauses would do, and it fell into a spiral (measured with make bench:
// 14,000–29,000 goroutines with no bound, 7,900 with max alone). Beyond the bound, jobs
// wait in a FIFO queue for the next slot free, and their lateness shows it. The queue is
// bounded by the chat count: a chat whose previous poll is in flight or waiting defers its
// turn to that poll (Manager.firePoll).
type pollers struct {
	mu      sync.Mutex
	idle    []*poller // most recently used last
	low     int       // the fewest idle pollers since the last reap
	alive   int
	stopped bool
	min     int
	max     int
	// busy are the pollers running a job, each at its slot; stuck of them ran longer
	// than the limit's stuckAfter when last scanned (at scanned) and no longer count.
	busy    []*poller
	stuck   int
	scanned time.Time
	limiter inFlightLimit
	// waiting are the jobs that found the pool at its limit, oldest from head on.
	waiting []pollJob
	head    int
	// run runs a job: runPoll, or a test's.
	run func(pollJob)
	// now reads the time polls take: time.Now, or a test's.
	now func() time.Time
}

// poller is one reused goroutine; it waits on its own channel. Its other fields are the
// pool's, under its lock, while it runs a job.
type poller struct {
	jobs  chan pollJob
	start time.Time
	slot  int
	stuck bool
}

// pollJob is one chat's poll due at a time.
type pollJob struct {
	m   *Manager
	c   *chat
	due time.Time
}

// Pool bounds: at least minPollersPerProc × GOMAXPROCS pollers stay; at most maxPollers
// polls run at once, however many the limit allows. Idle pollers beyond the minimum end
// after one to two pollerReapPeriods unused.
//
// The period is short because a burst leaves many pollers behind: ramping up 5,000 chats
// left 1,800 idle pollers where the steady state used 44, each keeping the stack it grew
// through net/http, and with a 30 s period they were still there when make bench sampled
// memory (17 MiB of stacks, 10.1 KiB a chat in all; 4.6 MiB and 6.2 KiB at 2 s). A poller
// that a recurring burst (a collection, a slow second of Genesys) uses even once a period
// stays; one ended too soon costs a goroutine start at the next burst, a few microseconds.
// The stuck scan runs at most every stuckScanPeriod, and only when the pool is at its limit.
const (
	minPollersPerProc = 8
	maxPollers        = gms.MaxIdleConnsPerHost
	pollerReapPeriod  = 2 * time.Second
	stuckScanPeriod   = 10 * time.Millisecond
)

func newPollers() *pollers {
	return &pollers{min: minPollersPerProc * runtime.GOMAXPROCS(0), max: maxPollers, run: runPoll, now: time.Now}
}

// runPoll polls a job's chat.
func runPoll(j pollJob) { j.m.poll(j.c, j.due) }

// submit runs j on an idle poller, or on a new one, or queues it while the pool is at its
// limit. It returns false, without running j, when the pool is stopped.
func (p *pollers) submit(j pollJob) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	now := p.now()
	p.limiter.fire(now.Sub(j.due))
	if p.full() {
		p.unstick(now)
	}
	if p.head == len(p.waiting) && !p.full() {
		p.start(j, now)
		return true
	}
	p.waiting = append(p.waiting, j) // behind those waiting already
	p.dispatch(now)
	return true
}

// full reports whether the polls that count against the limit reached it, or all the
// polls in flight, stuck ones included, reached max: a Genesys that answers nothing holds
// no more connections and goroutines than max.
func (p *pollers) full() bool {
	return len(p.busy) >= p.max || len(p.busy)-p.stuck >= p.limiter.limit(p.max)
}

// start runs j on the most recently used idle poller, or on a new one.
func (p *pollers) start(j pollJob, now time.Time) {
	var w *poller
	if n := len(p.idle); n > 0 {
		w = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.low = min(p.low, n-1)
	} else {
		w = &poller{jobs: make(chan pollJob, 1)}
		p.alive++
		go p.work(w)
	}
	p.take(w, j, now)
}

// take hands j to w, which is idle or has just finished its job.
func (p *pollers) take(w *poller, j pollJob, now time.Time) {
	w.start, w.stuck, w.slot = now, false, len(p.busy)
	p.busy = append(p.busy, w)
	w.jobs <- j // buffered, and w took its last job: never blocks
}

// unstick counts out of the limit the polls running longer than stuckAfter, unless the
// runner is short of CPU: then they wait for it, not for Genesys.
func (p *pollers) unstick(now time.Time) {
	if now.Sub(p.scanned) < stuckScanPeriod || p.limiter.short() {
		return
	}
	p.scanned = now
	after := p.limiter.stuckAfter()
	for _, w := range p.busy {
		if !w.stuck && now.Sub(w.start) > after {
			w.stuck = true
			p.stuck++
		}
	}
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

// release records how long w's job took and gives w the oldest waiting job if the limit
// allows, or puts it back on the idle stack; false when the pool stopped and the poller
// should end.
func (p *pollers) release(w *poller) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.limiter.observe(now.Sub(w.start))
	p.leave(w)
	if p.stopped {
		p.alive--
		return false
	}
	if p.head < len(p.waiting) && !p.full() {
		p.take(w, p.next(), now)
		return true
	}
	p.idle = append(p.idle, w)
	return true
}

// leave takes w off the busy list.
func (p *pollers) leave(w *poller) {
	last := len(p.busy) - 1
	p.busy[w.slot] = p.busy[last]
	p.busy[w.slot].slot = w.slot
	p.busy[last] = nil
	p.busy = p.busy[:last]
	if w.stuck {
		p.stuck--
	}
}

// next takes the oldest waiting job off the queue.
func (p *pollers) next() pollJob {
	j := p.waiting[p.head]
	p.waiting[p.head] = pollJob{}
	p.head++
	if p.head == len(p.waiting) {
		p.waiting, p.head = p.waiting[:0], 0
	} else if p.head > len(p.waiting)/2 {
		rest := copy(p.waiting, p.waiting[p.head:])
		clear(p.waiting[rest:])
		p.waiting, p.head = p.waiting[:rest], 0
	}
	return j
}

// dispatch starts waiting jobs while the limit allows: after it grew, or stuck polls
// were counted out.
func (p *pollers) dispatch(now time.Time) {
	for p.head < len(p.waiting) && !p.full() {
		p.start(p.next(), now)
	}
}

// setRate sets the polls due per second (chats / interval), which the limit follows.
func (p *pollers) setRate(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limiter.rate = perSecond
	if !p.stopped {
		p.dispatch(p.now())
	}
}

// PollLoad is a runner's polls at an instant: in flight (stuck ones included), waiting for
// a slot, and how many may be in flight at once.
type PollLoad struct {
	InFlight, Waiting, Limit int
}

// load is the pool's polls now.
func (p *pollers) load() PollLoad {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PollLoad{InFlight: len(p.busy), Waiting: len(p.waiting) - p.head, Limit: p.limiter.limit(p.max)}
}

// PollLoad returns the runner's polls now, for its metrics.
func (m *Manager) PollLoad() PollLoad { return m.sched.pollers.load() }

// reap ends the idle pollers that no job took since the last reap (the bottom of the idle
// stack), keeping at least min pollers alive, and ends the limit's period.
func (p *pollers) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limiter.fold() // the reap period is the estimate's
	if !p.stopped {
		p.dispatch(p.now())
	}
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
	p.waiting, p.head = nil, 0
}

// queued is the number of jobs waiting for a poller.
func (p *pollers) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting) - p.head
}

// size is the number of live pollers and of idle ones.
func (p *pollers) size() (alive, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive, len(p.idle)
}
