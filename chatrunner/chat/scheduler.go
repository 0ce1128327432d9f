package chat

import (
	"container/heap"
	"context"
	"hash/fnv"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// scheduler polls every chat at a fixed rate on one timer. Each chat keeps a phase inside
// the interval, derived from its id, so chats escalated together do not poll together
// (no thundering herd), and each next poll is due one interval after the previous due
// time, not after the previous poll ended (no drift). A chat still busy when due has its
// turn deferred until that poll ends, not queued: only its latest turn waits, so a slow
// Genesys never builds a backlog (Manager.firePoll).
type scheduler struct {
	clock clock.WithTicker
	fire  func(c *chat, due time.Time)
	// pollers run the polls fire hands them (Manager.firePoll); run reaps and stops them.
	pollers *pollers

	mu       sync.Mutex
	interval time.Duration
	queue    dueQueue
	wake     chan struct{}
}

func newScheduler(clk clock.WithTicker, interval time.Duration, fire func(*chat, time.Time)) *scheduler {
	return &scheduler{clock: clk, fire: fire, pollers: newPollers(), interval: interval, wake: make(chan struct{}, 1)}
}

// entry is a chat's place in the schedule.
type entry struct {
	chat  *chat
	due   time.Time
	index int
}

// setInterval changes the interval; each chat's next poll stays, the ones after follow.
func (s *scheduler) setInterval(d time.Duration) {
	s.mu.Lock()
	s.interval = d
	s.rated()
	s.mu.Unlock()
}

// rated tells the pollers the polls due per second, which bound the polls in flight; under
// s.mu, after the chats or the interval changed.
func (s *scheduler) rated() {
	if s.interval > 0 {
		s.pollers.setRate(float64(s.queue.Len()) / s.interval.Seconds())
	}
}

// add schedules a chat's first poll at its phase within the next interval.
func (s *scheduler) add(c *chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	due := now.Truncate(s.interval).Add(phase(c.id, s.interval))
	if !due.After(now) {
		due = due.Add(s.interval)
	}
	e := &entry{chat: c, due: due}
	c.entry = e
	heap.Push(&s.queue, dueItem{at: due.UnixNano(), entry: e})
	s.rated()
	s.poke()
}

// remove takes a chat off the schedule.
func (s *scheduler) remove(c *chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := c.entry; e != nil && e.index >= 0 {
		heap.Remove(&s.queue, e.index)
		s.rated()
	}
	c.entry = nil
}

// len is the number of scheduled chats.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.Len()
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// batchWindow is how early a poll may fire: every chat due within it of the first fires
// on the same wake, so that 10,000 chats a second cost a wake every millisecond or so,
// not one per chat. Dues stay in step (the next is one interval after the scheduled one).
const batchWindow = time.Millisecond

// run fires due polls until ctx ends, then stops the pollers (polls in flight end on
// their own, with ctx). It waits on one timer, reset for every wake.
func (s *scheduler) run(ctx context.Context) {
	defer s.pollers.stop()
	reaped := s.clock.Now()
	type firing struct {
		c   *chat
		due time.Time
	}
	var due []firing
	t := s.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := s.clock.Now()
		// Never more than half an interval early: a chat fires at most once per wake.
		horizon := now.Add(min(batchWindow, s.interval/2))
		due = due[:0]
		for s.queue.Len() > 0 && !s.queue[0].entry.due.After(horizon) {
			e := s.queue[0].entry
			due = append(due, firing{e.chat, e.due})
			s.queue.setDue(0, nextDue(e.due, horizon, s.interval))
		}
		wait := pollerReapPeriod // reaps even when no chat is due for long
		if s.queue.Len() > 0 {
			wait = min(wait, s.queue[0].entry.due.Sub(now))
		}
		s.mu.Unlock()
		for i, f := range due {
			s.fire(f.c, f.due)
			due[i] = firing{} // the chat may end: do not keep it
		}
		if now.Sub(reaped) >= pollerReapPeriod {
			s.pollers.reap()
			reaped = now
		}
		if !t.Stop() {
			select { // a fake clock's timer may hold a stale tick; a real one never does
			case <-t.C():
			default:
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C():
		}
	}
}

// nextDue is the first time after now in step with due.
func nextDue(due, now time.Time, interval time.Duration) time.Time {
	next := due.Add(interval)
	if next.After(now) {
		return next
	}
	behind := now.Sub(next)/interval + 1
	return next.Add(behind * interval)
}

// phase spreads chats over the interval by their id.
func phase(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}

// dueQueue is a min-heap of entries by due time. Each item holds its entry's due time as
// an int64 beside the pointer, so that comparing two items reads the heap's own array, not
// two entries elsewhere in memory: Less through the entries took 2.2% of the runner's CPU
// samples in make bench at 5,000 chats (cache misses, with everything else a runner does
// between two polls), and BenchmarkDueQueue went from 243 to 183 ns a poll.
type dueQueue []dueItem

// dueItem is an entry in the queue, keyed by its due time in Unix nanoseconds.
type dueItem struct {
	at    int64
	entry *entry
}

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].entry.index, q[j].entry.index = i, j
}
func (q *dueQueue) Push(x any) {
	it := x.(dueItem)
	it.entry.index = len(*q)
	*q = append(*q, it)
}
func (q *dueQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	it.entry.index = -1
	*q = old[:len(old)-1]
	return it
}

// setDue moves the i-th item's entry to due.
func (q *dueQueue) setDue(i int, due time.Time) {
	(*q)[i].entry.due = due
	(*q)[i].at = due.UnixNano()
	heap.Fix(q, i)
}
