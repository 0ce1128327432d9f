package chat

import (
	"container/heap"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestNextDueKeepsTheRateWithoutDrift(t *testing.T) {
	g := NewWithT(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// On time: one interval after the previous due time, however late the poll ran.
	g.Expect(nextDue(base, base.Add(900*time.Millisecond), time.Second)).To(Equal(base.Add(time.Second)))
	// Far behind: the next slot in step, not a burst of catch-up polls.
	g.Expect(nextDue(base, base.Add(3500*time.Millisecond), time.Second)).To(Equal(base.Add(4 * time.Second)))
}

func TestSchedulerSpreadsChatsAndSkipsBusyOnes(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	fired := map[*chat][]time.Time{}
	s := newScheduler(clk, time.Second, func(c *chat, due time.Time) {
		mu.Lock()
		defer mu.Unlock()
		fired[c] = append(fired[c], due)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	const n = 1000
	chats := make([]*chat, n)
	for i := range chats {
		chats[i] = &chat{id: fmt.Sprintf("r0-%016x", i*7919)}
		s.add(chats[i])
	}
	// Step through three intervals in 10 ms steps.
	for range 300 {
		g.Eventually(clk.HasWaiters).Should(BeTrue())
		clk.Step(10 * time.Millisecond)
	}
	g.Eventually(func() int {
		mu.Lock()
		defer mu.Unlock()
		total := 0
		for _, dues := range fired {
			total += len(dues)
		}
		return total
	}).Should(BeNumerically(">=", 2*n))

	mu.Lock()
	defer mu.Unlock()
	buckets := make([]int, 10)
	for c, dues := range fired {
		for i := 1; i < len(dues); i++ {
			g.Expect(dues[i].Sub(dues[i-1])).To(Equal(time.Second), "fixed rate for %s", c.id)
		}
		buckets[dues[0].Nanosecond()/int(100*time.Millisecond)]++
	}
	for i, b := range buckets {
		g.Expect(b).To(BeNumerically("~", n/10, n/20), "chats due in the %dth tenth of the interval", i)
	}
	g.Expect(s.len()).To(Equal(n))
	s.remove(chats[0])
	g.Expect(s.len()).To(Equal(n - 1))
}

// timerCountingClock counts the timers made.
type timerCountingClock struct {
	*clocktesting.FakeClock
	timers atomic.Int32
}

func (c *timerCountingClock) NewTimer(d time.Duration) clock.Timer {
	c.timers.Add(1)
	return c.FakeClock.NewTimer(d)
}

func TestSchedulerBatchesDuePollsOnOneReusedTimer(t *testing.T) {
	g := NewWithT(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &timerCountingClock{FakeClock: clocktesting.NewFakeClock(start)}
	fired := make(chan string, 10)
	s := newScheduler(clk, time.Second, func(c *chat, due time.Time) {
		fired <- fmt.Sprintf("%s@%s", c.id, due.Sub(start))
	})
	at := func(id string, offset time.Duration) {
		c := &chat{id: id}
		s.add(c)
		s.mu.Lock()
		s.queue.setDue(c.entry.index, start.Add(offset))
		s.mu.Unlock()
	}
	at("a", 100*time.Millisecond)
	at("b", 100*time.Millisecond+500*time.Microsecond) // within the batch window of a
	at("c", 102*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	next := func() string {
		select {
		case f := <-fired:
			return f
		case <-time.After(5 * time.Second):
			return "nothing"
		}
	}

	g.Eventually(clk.HasWaiters).Should(BeTrue())
	clk.Step(100 * time.Millisecond)
	// a and b on one wake, each with its own due time; c waits for its own.
	g.Expect([]string{next(), next()}).To(ConsistOf("a@100ms", "b@100.5ms"))
	g.Consistently(fired, 50*time.Millisecond).ShouldNot(Receive())
	for _, step := range []time.Duration{2 * time.Millisecond, 998 * time.Millisecond} {
		g.Eventually(clk.HasWaiters).Should(BeTrue())
		clk.Step(step)
	}
	g.Expect(next()).To(Equal("c@102ms"))
	g.Expect([]string{next(), next()}).To(ConsistOf("a@1.1s", "b@1.1005s"))
	g.Expect(clk.timers.Load()).To(BeNumerically("==", 1), "one timer for every wake")
}

// A burst's pollers end within two reap periods of its end, even with no chat left to
// wake the scheduler: the runner's memory follows its steady state, not its busiest moment.
func TestSchedulerReapsABurstsPollersSoon(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newScheduler(clk, time.Second, func(*chat, time.Time) {})
	release := make(chan struct{})
	s.pollers.run = func(pollJob) { <-release }
	const burst = minInFlight // the bound on polls in flight with no chat scheduled
	for range burst {
		g.Expect(s.pollers.submit(pollJob{})).To(BeTrue())
	}
	alive, _ := s.pollers.size()
	g.Expect(alive).To(Equal(burst))
	close(release)
	g.Eventually(func() int { _, idle := s.pollers.size(); return idle }).Should(Equal(burst))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	for range 2 {
		g.Eventually(clk.HasWaiters).Should(BeTrue())
		clk.Step(pollerReapPeriod)
	}
	g.Eventually(func() int { alive, _ := s.pollers.size(); return alive }).Should(Equal(s.pollers.min))
}

// BenchmarkDueQueue is the scheduler's queue work per poll at 10,000 chats: the chat due
// first moves one interval on. The entries are allocated apart, as chats are, so that
// reading one is a cache miss as in the runner.
//
//	go test ./chatrunner/chat/ -run '^$' -bench BenchmarkDueQueue
func BenchmarkDueQueue(b *testing.B) {
	const chats = 10000
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var q dueQueue
	var apart [][]byte
	for i := range chats {
		apart = append(apart, make([]byte, 256))
		due := start.Add(phase(fmt.Sprintf("r0-%016x", i), time.Second))
		heap.Push(&q, dueItem{at: due.UnixNano(), entry: &entry{chat: &chat{}, due: due}})
	}
	b.ResetTimer()
	for range b.N {
		q.setDue(0, q[0].entry.due.Add(time.Second))
	}
	runtime.KeepAlive(apart)
}
