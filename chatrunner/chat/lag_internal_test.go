package chat

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	testingclock "k8s.io/utils/clock/testing"
)

func TestLagTrackerKeepsTheLargestLatenessOfTheWindow(t *testing.T) {
	g := NewWithT(t)
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var l lagTracker
	l.observe(t0, 300*time.Millisecond)
	l.observe(t0.Add(time.Second), 3*time.Second)
	l.observe(t0.Add(2*time.Second), 100*time.Millisecond)
	g.Expect(l.lag(t0.Add(2 * time.Second))).To(Equal(3 * time.Second))
	g.Expect(l.lag(t0.Add(7*time.Second))).To(Equal(3*time.Second), "still within the window")
	g.Expect(l.lag(t0.Add(13*time.Second))).To(BeZero(), "forgotten after the window")
	g.Expect(shedLag(time.Second)).To(Equal(time.Second))
	g.Expect(shedLag(5 * time.Second)).To(Equal(5 * time.Second))
}

// TestARunnerBehindItsPollsShedsNewEscalations: while polls run later than shedLag, a new
// escalation is refused like a full runner (503 with Retry-After), a live conversation is
// still answered, and escalations are taken again once the runner caught up.
func TestARunnerBehindItsPollsShedsNewEscalations(t *testing.T) {
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	f := &scriptedGMS{refresh: map[string]error{}}
	m := NewManager(Options{GMS: f, Clock: clk, Settings: Settings{
		Domain: "acme", PollInterval: time.Second, EscalationTimeout: time.Hour, AvailabilityRefresh: time.Hour,
		Agents: 1, MaxChatsPerAgent: 10, Locale: "en-US",
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	live, _, err := m.Escalate(ctx, Escalation{ConversationID: "live", Domain: "acme", User: User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())

	m.lag.observe(clk.Now(), 900*time.Millisecond) // late, but gaps stay below two intervals
	_, created, err := m.Escalate(ctx, Escalation{ConversationID: "early", Domain: "acme", User: User{Name: "Joan"}})
	g.Expect(err).NotTo(HaveOccurred(), "below one interval of lag nothing is shed")
	g.Expect(created).To(BeTrue())

	m.lag.observe(clk.Now(), 1500*time.Millisecond) // polls 1.5 s late: CPU starved
	_, _, err = m.Escalate(ctx, Escalation{ConversationID: "new", Domain: "acme", User: User{Name: "John"}})
	var capErr *CapacityError
	g.Expect(errors.As(err, &capErr)).To(BeTrue(), "%v", err)
	g.Expect(capErr.Behind).To(Equal(1500 * time.Millisecond))
	g.Expect(capErr.RetryAfter).To(Equal(shedRetryAfter))
	g.Expect(capErr.Error()).To(ContainSubstring("behind its polls"))
	var again View
	again, created, err = m.Escalate(ctx, Escalation{ConversationID: "live", Domain: "acme", User: User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred(), "a live conversation is answered, not shed")
	g.Expect(created).To(BeFalse())
	g.Expect(again.ID).To(Equal(live.ID))
	g.Expect(m.Status().PollLagMilliseconds).To(BeEquivalentTo(1500))

	clk.Step(lagWindow + time.Second)
	_, created, err = m.Escalate(ctx, Escalation{ConversationID: "new", Domain: "acme", User: User{Name: "John"}})
	g.Expect(err).NotTo(HaveOccurred(), "caught up: taken again")
	g.Expect(created).To(BeTrue())
}
