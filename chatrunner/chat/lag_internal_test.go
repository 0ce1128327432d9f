package chat

import (
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
	l.observe(t0, 300*time.Millisecond, time.Second)
	l.observe(t0.Add(time.Second), 3*time.Second, time.Second)
	l.observe(t0.Add(2*time.Second), 100*time.Millisecond, time.Second)
	g.Expect(l.lag(t0.Add(2 * time.Second))).To(Equal(3 * time.Second))
	g.Expect(l.lag(t0.Add(7*time.Second))).To(Equal(3*time.Second), "still within the window")
	g.Expect(l.lag(t0.Add(13*time.Second))).To(BeZero(), "forgotten after the window")
}

// TestLagTrackerIsBehindWhenLatenessSpreadsOrOnePollIsAnIntervalLate: the shedding rule,
// case by case, at a 1 s interval (late: over 100 ms) and below the shortest interval allowed.
func TestLagTrackerIsBehindWhenLatenessSpreadsOrOnePollIsAnIntervalLate(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	type polls struct {
		n    int
		late time.Duration
	}
	for _, tc := range []struct {
		name     string
		polls    []polls
		behind   bool
		interval time.Duration // 1 s when zero
	}{
		{"on time", []polls{{1000, 10 * time.Millisecond}}, false, 0},
		{"a lone poll 900 ms late", []polls{{999, 10 * time.Millisecond}, {1, 900 * time.Millisecond}}, false, 0},
		{"1% late: not more than the share", []polls{{1980, 10 * time.Millisecond}, {20, 300 * time.Millisecond}}, false, 0},
		{"late exactly a tenth of the interval: not late", []polls{{900, 10 * time.Millisecond}, {100, 100 * time.Millisecond}}, false, 0},
		{"2.5% late", []polls{{975, 10 * time.Millisecond}, {25, 300 * time.Millisecond}}, true, 0},
		{"15 of 100 late: fewer than minLatePolls", []polls{{85, 10 * time.Millisecond}, {15, 400 * time.Millisecond}}, false, 0},
		{"20 of 100 late", []polls{{80, 10 * time.Millisecond}, {20, 400 * time.Millisecond}}, true, 0},
		{"one poll over an interval late", []polls{{10000, 10 * time.Millisecond}, {1, 1100 * time.Millisecond}}, true, 0},
		// Below the resource's shortest interval (the engine's tests poll every 20 ms) the
		// bars stay those of 1 s: a scheduler's hiccup sheds nothing.
		{"20 ms interval: a poll 41 ms late and 3% over 2 ms", []polls{{970, time.Millisecond}, {29, 5 * time.Millisecond}, {1, 41 * time.Millisecond}}, false, 20 * time.Millisecond},
		{"20 ms interval: 2.5% over 100 ms", []polls{{975, time.Millisecond}, {25, 150 * time.Millisecond}}, true, 20 * time.Millisecond},
		{"20 ms interval: one poll over 1 s late", []polls{{1000, time.Millisecond}, {1, 1100 * time.Millisecond}}, true, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			interval := tc.interval
			if interval == 0 {
				interval = time.Second
			}
			var l lagTracker
			for _, p := range tc.polls {
				for range p.n {
					l.observe(t0, p.late, interval)
				}
			}
			_, behind := l.behind(t0.Add(time.Second), interval)
			g.Expect(behind).To(Equal(tc.behind))
			_, behind = l.behind(t0.Add(lagWindow+time.Second), interval)
			g.Expect(behind).To(BeFalse(), "forgotten after the window")
		})
	}
}

// TestARunnerBehindItsPollsShedsNewEscalations: while polls run later than shedLag, a new
// escalation is refused like a full runner (503 with Retry-After), a live conversation is
// still answered, and escalations are taken again once the runner caught up.
func TestARunnerBehindItsPollsShedsNewEscalations(t *testing.T) {
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	f := &scriptedGMS{refresh: map[string]error{}}
	m, ctx := runManager(t, Options{GMS: f, Clock: clk, Settings: Settings{
		Domain: "acme", PollInterval: time.Second, EscalationTimeout: time.Hour, AvailabilityRefresh: time.Hour,
		Agents: 1, MaxChatsPerAgent: 10, Locale: "en-US",
	}})

	live, _, err := m.Escalate(ctx, Escalation{ConversationID: "live", Domain: "acme", User: User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())

	m.lag.observe(clk.Now(), 900*time.Millisecond, time.Second) // one poll late: not yet behind
	early, created, err := m.Escalate(ctx, Escalation{ConversationID: "early", Domain: "acme", User: User{Name: "Joan"}})
	g.Expect(err).NotTo(HaveOccurred(), "a lone late poll sheds nothing")
	g.Expect(created).To(BeTrue())

	m.lag.observe(clk.Now(), 1500*time.Millisecond, time.Second) // a poll 1.5 s late: CPU starved
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

	// The window passes in one step of the fake clock, which to the scheduler is a runner
	// frozen that long: its chats would poll over 10 s late and put it behind indeed. So
	// they end first, and nothing polls meanwhile.
	for _, id := range []string{live.ID, early.ID} {
		_, err = m.Close(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(m.sched.len()).To(BeZero())
	clk.Step(lagWindow + time.Second)
	_, created, err = m.Escalate(ctx, Escalation{ConversationID: "new", Domain: "acme", User: User{Name: "John"}})
	g.Expect(err).NotTo(HaveOccurred(), "caught up: taken again")
	g.Expect(created).To(BeTrue())

	// Lateness spreading sheds too, before any poll is an interval late.
	for range 30 {
		m.lag.observe(clk.Now(), 300*time.Millisecond, time.Second)
	}
	_, _, err = m.Escalate(ctx, Escalation{ConversationID: "later", Domain: "acme", User: User{Name: "Jim"}})
	g.Expect(errors.As(err, &capErr)).To(BeTrue(), "%v", err)
	g.Expect(capErr.Behind).To(Equal(300 * time.Millisecond))
}
