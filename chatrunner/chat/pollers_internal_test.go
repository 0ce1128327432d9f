package chat

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestPollersReuseGoroutinesGrowWhenBusyAndShrinkWhenIdle(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	p := newPollers()
	p.min, p.max = 2, 8
	var ran atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	p.run = func(pollJob) {
		defer wg.Done()
		<-release
		ran.Add(1)
	}

	// Eight slow polls at once: eight pollers, none starved; two more find the pool full
	// and wait, in order, for the first pollers free, without a new goroutine.
	wg.Add(10)
	for range 8 {
		g.Expect(p.submit(pollJob{})).To(BeTrue())
	}
	g.Expect(p.submit(pollJob{})).To(BeTrue())
	g.Expect(p.submit(pollJob{})).To(BeTrue())
	g.Expect(p.queued()).To(Equal(2))
	alive, _ := p.size()
	g.Expect(alive).To(Equal(8))
	g.Consistently(ran.Load, 100*time.Millisecond).Should(BeZero())
	close(release)
	wg.Wait()
	g.Expect(ran.Load()).To(BeNumerically("==", 10), "the waiting jobs ran too")
	g.Expect(p.queued()).To(BeZero())
	alive, _ = p.size()
	g.Expect(alive).To(Equal(8))
	g.Eventually(func() int { _, idle := p.size(); return idle }).Should(Equal(8))

	// Sequential polls reuse the most recently used poller: no new goroutine.
	for range 100 {
		wg.Add(1)
		g.Expect(p.submit(pollJob{})).To(BeTrue())
		wg.Wait()
		g.Eventually(func() int { _, idle := p.size(); return idle }).Should(Equal(8))
	}
	alive, _ = p.size()
	g.Expect(alive).To(Equal(8))
	g.Expect(ran.Load()).To(BeNumerically("==", 110))

	// The first reap only learns what was used; the next ends the pollers no job took
	// since (all but the one on top), keeping the minimum.
	p.reap()
	alive, _ = p.size()
	g.Expect(alive).To(Equal(8))
	p.reap()
	alive, idle := p.size()
	g.Expect(alive).To(Equal(2))
	g.Expect(idle).To(Equal(2))

	// Stopped: idle pollers end, a busy one ends when its poll returns, submits fail.
	block := make(chan struct{})
	p.run = func(pollJob) { defer wg.Done(); <-block }
	wg.Add(1)
	g.Expect(p.submit(pollJob{})).To(BeTrue())
	p.stop()
	g.Expect(p.submit(pollJob{})).To(BeFalse())
	alive, _ = p.size()
	g.Expect(alive).To(Equal(1))
	close(block)
	wg.Wait()
	g.Eventually(func() int { alive, _ := p.size(); return alive }).Should(Equal(0))
}

// A pause (of Genesys, or of a runner short of CPU) holds every poll in flight: the polls
// that come due meanwhile wait in the pool, beyond the bound the steady state needs,
// instead of each starting on a poller and a connection of its own; they all run after.
func TestPollersQueueAPausesPollsBeyondWhatTheSteadyStateNeeds(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	p := newPollers()
	p.setRate(1000) // 1,000 chats at 1 s, answered in a millisecond
	p.limiter.observe(time.Millisecond)
	p.limiter.fold()
	g.Expect(p.load().Limit).To(Equal(minInFlight))

	release := make(chan struct{})
	var running, most, ran atomic.Int32
	p.run = func(pollJob) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		ran.Add(1)
	}
	const due = 1000
	for range due {
		g.Expect(p.submit(pollJob{})).To(BeTrue())
	}
	g.Eventually(running.Load).Should(BeNumerically("==", minInFlight))
	g.Expect(p.queued()).To(Equal(due - minInFlight))
	alive, _ := p.size()
	g.Expect(alive).To(Equal(minInFlight))

	close(release)
	g.Eventually(ran.Load).Should(BeNumerically("==", due))
	g.Expect(most.Load()).To(BeNumerically("==", minInFlight), "never more in flight than the bound")
	alive, _ = p.size()
	g.Expect(alive).To(Equal(minInFlight))
}

// A runner that resumes many chats at once knows no poll time yet: the rate alone (with a
// poll assumed to take 100 ms) raises the bound, and the polls waiting start at once.
func TestPollersStartWaitingPollsWhenTheRateRaisesTheBound(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	p := newPollers()
	release := make(chan struct{})
	defer close(release)
	var running atomic.Int32
	p.run = func(pollJob) { running.Add(1); <-release }
	for range 300 {
		g.Expect(p.submit(pollJob{})).To(BeTrue())
	}
	g.Eventually(running.Load).Should(BeNumerically("==", minInFlight), "no chats scheduled yet: the floor")
	p.setRate(1000) // 4 × 1,000/s × 100 ms = 400
	g.Eventually(running.Load).Should(BeNumerically("==", 300))
	g.Expect(p.queued()).To(BeZero())
}

// A poll that runs far longer than polls take (a Genesys node that never answers) no
// longer holds a slot once past stuckAfter: the other chats poll on, up to max polls in
// flight, stuck ones included.
func TestPollersCountStuckPollsOutOfTheBound(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	p := fakeClockPollers(clk) // stuck after 250 ms
	p.max = minInFlight + 2
	hang, hold := make(chan struct{}), make(chan struct{})
	var started, ran atomic.Int32
	p.run = func(j pollJob) {
		started.Add(1)
		if j.c == nil {
			<-hang
		} else {
			<-hold
		}
		ran.Add(1)
	}
	for range minInFlight {
		g.Expect(p.submit(pollJob{due: clk.Now()})).To(BeTrue())
	}
	g.Eventually(started.Load).Should(BeNumerically("==", minInFlight))
	other := func() pollJob { return pollJob{c: &chat{}, due: clk.Now()} } // fired on time
	g.Expect(p.submit(other())).To(BeTrue())
	g.Expect(p.queued()).To(Equal(1), "the bound is reached")

	clk.Step(200 * time.Millisecond)
	g.Expect(p.submit(other())).To(BeTrue())
	g.Expect(p.queued()).To(Equal(2), "200 ms is not stuck yet")

	clk.Step(100 * time.Millisecond)
	g.Expect(p.submit(other())).To(BeTrue())
	g.Eventually(started.Load).Should(BeNumerically("==", minInFlight+2), "past 250 ms the hung polls are counted out...")
	g.Consistently(started.Load, 100*time.Millisecond).Should(BeNumerically("==", minInFlight+2))
	g.Expect(p.queued()).To(Equal(1), "...but never more polls in flight than max, stuck ones included")

	close(hold)
	g.Eventually(ran.Load).Should(BeNumerically("==", 3))
	g.Expect(p.queued()).To(BeZero())
	close(hang)
	g.Eventually(ran.Load).Should(BeNumerically("==", minInFlight+3))
	g.Eventually(func() int { return p.load().InFlight }).Should(BeZero())
}

// A runner short of CPU fires its polls late, and its long polls wait for the CPU, not
// for Genesys: none is counted out as stuck, so no more start (each would dial a
// connection the runner has no CPU to serve).
func TestPollersCountNoPollStuckWhileShortOfCPU(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	p := fakeClockPollers(clk) // stuck after 250 ms
	hang := make(chan struct{})
	defer close(hang)
	var started atomic.Int32
	p.run = func(pollJob) { started.Add(1); <-hang }
	late := 50 * time.Millisecond // fired that late: the scheduler waited for the CPU
	for range minInFlight + 1 {
		g.Expect(p.submit(pollJob{due: clk.Now().Add(-late)})).To(BeTrue())
	}
	g.Eventually(started.Load).Should(BeNumerically("==", minInFlight))
	clk.Step(time.Second)
	g.Expect(p.submit(pollJob{due: clk.Now().Add(-late)})).To(BeTrue())
	g.Consistently(started.Load, 100*time.Millisecond).Should(BeNumerically("==", minInFlight))
	g.Expect(p.queued()).To(Equal(2))
}

// blockingGMS answers Refresh when its chat's gate opens; it counts the calls per chat.
type blockingGMS struct {
	GMS   // the other calls are not made
	mu    sync.Mutex
	calls map[string]int
	gates map[string]chan struct{}
}

func (b *blockingGMS) Refresh(ctx context.Context, s *gms.Session, _ int) (*gms.Response, error) {
	b.mu.Lock()
	b.calls[s.ChatID]++
	gate := b.gates[s.ChatID]
	b.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
	}
	return &gms.Response{StatusCode: gms.StatusOK}, nil
}

func (b *blockingGMS) count(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[id]
}

func TestSlowPollDefersItsChatsTurnsWithoutStarvingOthers(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	stub := &blockingGMS{calls: map[string]int{}, gates: map[string]chan struct{}{
		"slow": make(chan struct{}), "fast": make(chan struct{}),
	}}
	close(stub.gates["fast"])
	var deferred atomic.Int32
	m := NewManager(Options{GMS: stub, Settings: Settings{PollInterval: time.Second, EscalationTimeout: time.Hour},
		PollDeferred: func() { deferred.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.base = ctx
	newChat := func(id string) *chat {
		return &chat{
			id: id, state: chatv1alpha1.ChatWaitingForAgent, requestTime: time.Now(), store: noStore,
			session: gms.NewSession(id, "u", "k", "1"), transcript: gms.NewTranscript(),
			events: newEventLog(), agents: map[int]Agent{},
		}
	}
	slow, fast := newChat("slow"), newChat("fast")

	m.firePoll(slow, time.Now())
	g.Eventually(func() int { return stub.count("slow") }).Should(Equal(1))
	for range 5 {
		// The slow chat's poll is in flight: its turns are deferred, not queued...
		m.firePoll(slow, time.Now())
		// ...and the other chat polls meanwhile.
		m.firePoll(fast, time.Now())
		g.Eventually(fast.polling.Load).Should(BeFalse())
		g.Eventually(func() int { _, idle := m.sched.pollers.size(); return idle }).Should(Equal(1))
	}
	g.Expect(stub.count("slow")).To(Equal(1))
	g.Expect(stub.count("fast")).To(Equal(5))
	g.Expect(deferred.Load()).To(BeNumerically("==", 5), "each deferred turn is reported, and only those")
	alive, idle := m.sched.pollers.size()
	g.Expect(alive).To(Equal(2), "one poller busy with the slow chat, one reused for the fast one")
	g.Expect(idle).To(Equal(1))

	// Once it ends, the latest deferred turn runs at once, and only that one.
	close(stub.gates["slow"])
	g.Eventually(func() int { return stub.count("slow") }).Should(Equal(2))
	g.Eventually(slow.polling.Load).Should(BeFalse())
	g.Consistently(func() int { return stub.count("slow") }, 200*time.Millisecond).Should(Equal(2))
	m.firePoll(slow, time.Now())
	g.Eventually(func() int { return stub.count("slow") }).Should(Equal(3))
}
