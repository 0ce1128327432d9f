package chat

import (
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	testingclock "k8s.io/utils/clock/testing"
)

// TestAdmissionDoublesEachSecondAfterAShed: new chats per second after the last shed, second
// by second, then no pacing.
func TestAdmissionDoublesEachSecondAfterAShed(t *testing.T) {
	g := NewWithT(t)
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var a admission
	for range 1000 {
		g.Expect(a.allow(t0)).To(BeTrue(), "never shed: no pacing")
	}
	a.shed(t0)
	taken := func(at time.Time) int {
		n := 0
		for a.allow(at) && n < 10000 {
			n++
		}
		return n
	}
	for s, want := range []int{10, 20, 40, 80, 160, 320, 640, 1280} {
		at := t0.Add(time.Duration(s)*time.Second + 100*time.Millisecond)
		g.Expect(taken(at)).To(Equal(want), "second %d", s)
		g.Expect(a.allow(at.Add(500*time.Millisecond))).To(BeFalse(), "the same second's allowance is spent")
	}
	g.Expect(taken(t0.Add(8*time.Second+100*time.Millisecond))).To(Equal(10000), "paced no more")

	a.shed(t0.Add(20 * time.Second)) // shed again: pacing starts over
	g.Expect(taken(t0.Add(20*time.Second + 500*time.Millisecond))).To(Equal(10))
}

// A runner that shed escalations for being behind takes new chats gradually once caught
// up: beyond the second's allowance an escalation gets 503 with Retry-After 1 s, and
// the allowance doubles the next second.
func TestARunnerThatShedTakesNewChatsGradually(t *testing.T) {
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	m, ctx := runManager(t, Options{GMS: &scriptedGMS{refresh: map[string]error{}}, Clock: clk, Settings: Settings{
		Domain: "acme", PollInterval: time.Hour, EscalationTimeout: time.Hour, AvailabilityRefresh: time.Hour,
		Agents: 10, MaxChatsPerAgent: 10, Locale: "en-US",
	}})

	escalate := func(id string) error {
		_, _, err := m.Escalate(ctx, Escalation{ConversationID: id, Domain: "acme", User: User{Name: id}})
		return err
	}
	m.lag.observe(clk.Now(), 3*time.Hour, time.Hour) // a poll an interval late: behind
	var capErr *CapacityError
	g.Expect(errors.As(escalate("shed"), &capErr)).To(BeTrue())
	g.Expect(capErr.Behind).To(BeNumerically(">", 0))

	clk.Step(lagWindow + time.Second)
	g.Expect(escalate("shed-again")).To(Succeed(), "caught up, and the shed was 11 s ago: no pacing")

	m.lag.observe(clk.Now(), 3*time.Hour, time.Hour)
	g.Expect(errors.As(escalate("shed-2"), &capErr)).To(BeTrue())
	m.lag = lagTracker{} // caught up at once, right after the shed
	for i := range rampStart {
		g.Expect(escalate(fmt.Sprint("first-second-", i))).To(Succeed())
	}
	err := escalate("one-too-many")
	g.Expect(errors.As(err, &capErr)).To(BeTrue(), "%v", err)
	g.Expect(capErr.Pacing).To(BeTrue())
	g.Expect(capErr.RetryAfter).To(Equal(time.Second))
	g.Expect(capErr.Error()).To(ContainSubstring("gradually"))

	clk.Step(time.Second)
	for i := range 2 * rampStart {
		g.Expect(escalate(fmt.Sprint("second-second-", i))).To(Succeed())
	}
	g.Expect(errors.As(escalate("again-too-many"), &capErr)).To(BeTrue())
	g.Expect(capErr.Pacing).To(BeTrue())
}
