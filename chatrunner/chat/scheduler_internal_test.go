package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
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
