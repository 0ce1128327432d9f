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
// have a poll in flight at once, so a job that finds no idle poller starts a new one, up
// to max. In steady state the pool is as large as the polls in flight at the busiest
// instant (rate × latency, a few dozen for 10,000 chats a second answered in a millisecond
// or two): idle pollers are kept on a stack, the most recently used on top, and those
// never taken from the bottom of the stack for a whole reap period are ended, keeping at
// least min.
//
// Beyond max, jobs wait in a FIFO queue for the next poller free, and their lateness
// shows it. max is the connections the GMS transport keeps per host: more polls in flight
// than that would dial (and then close) a connection each, which is what a runner short
// of CPU would do, since its polls then take longer, and it fell into a spiral (measured
// with make bench: 14,000–29,000 goroutines, a chat idle out in 3 s of every two).
// The queue is bounded by the chat count: a chat whose previous poll is in flight or
// waiting defers its turn to that poll (Manager.firePoll).
type pollers struct {
	mu      sync.Mutex
	idle    []*poller // most recently used last
	low     int       // the fewest idle pollers since the last reap
	alive   int
	stopped bool
	min     int
	max     int
	// waiting are the jobs that found max pollers busy, oldest from head on.
	waiting []pollJob
	head    int
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
// polls run at once, the others wait. Idle pollers beyond the minimum end after one to two
// pollerReapPeriods unused.
//
// The period is short because a burst leaves many pollers behind: ramping up 5,000 chats
// left 1,800 idle pollers where the steady state used 44, each keeping the stack it grew
// through net/http, and with a 30 s period they were still there when make bench sampled
// memory (17 MiB of stacks, 10.1 KiB a chat in all; 4.6 MiB and 6.2 KiB at 2 s). A poller
// that a recurring burst (a collection, a slow second of Genesys) uses even once a period
// stays; one ended too soon costs a goroutine start at the next burst, a few microseconds.
const (
	minPollersPerProc = 8
	maxPollers        = gms.MaxIdleConnsPerHost
	pollerReapPeriod  = 2 * time.Second
)

func newPollers() *pollers {
	return &pollers{min: minPollersPerProc * runtime.GOMAXPROCS(0), max: maxPollers, run: runPoll}
}

// runPoll polls a job's chat.
func runPoll(j pollJob) { j.m.poll(j.c, j.due) }

// submit runs j on an idle poller, or on a new one, or queues it while max pollers are
// busy. It returns false, without running j, when the pool is stopped.
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
		p.waiting = append(p.waiting, j)
		p.mu.Unlock()
		return true
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

// release gives a poller that finished its job the oldest waiting one, or puts it back
// on the idle stack; false when the pool stopped and the poller should end.
func (p *pollers) release(w *poller) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		p.alive--
		return false
	}
	if p.head < len(p.waiting) {
		w.jobs <- p.waiting[p.head] // the poller took its last job: room for one
		p.waiting[p.head] = pollJob{}
		p.head++
		if p.head == len(p.waiting) {
			p.waiting, p.head = p.waiting[:0], 0
		} else if p.head > len(p.waiting)/2 {
			rest := copy(p.waiting, p.waiting[p.head:])
			clear(p.waiting[rest:])
			p.waiting, p.head = p.waiting[:rest], 0
		}
		return true
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
