package chat

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestInFlightLimitFollowsLittlesLaw: the bound on polls in flight, case by case, from the
// polls due per second and the time a poll takes.
func TestInFlightLimitFollowsLittlesLaw(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    float64
		periods [][]time.Duration // the polls' times, period by period
		ceiling int
		limit   int
	}{
		{"no chats", 0, nil, maxPollers, minInFlight},
		{"before any period ends: a poll assumed to take 100 ms", 1000, nil, maxPollers, 400},
		{"10,000 chats answered in 1 ms: the floor", 10000, [][]time.Duration{{time.Millisecond}}, maxPollers, minInFlight},
		{"10,000 chats answered in 10 ms", 10000, [][]time.Duration{{10 * time.Millisecond}}, maxPollers, 400},
		{"10,000 chats over a 200 ms link: the ceiling", 10000, [][]time.Duration{{200 * time.Millisecond}}, maxPollers, maxPollers},
		{"a ceiling below the floor wins", 0, nil, 8, 8},
		{
			"the mean of a period, not its slowest poll", 10000,
			[][]time.Duration{{time.Millisecond, time.Millisecond, 4 * time.Millisecond, 10 * time.Millisecond}}, maxPollers, 160,
		},
		{
			// 5 ms, then 35% of the way to 25 ms: 12 ms.
			"a slower period moves the estimate part of the way", 10000,
			[][]time.Duration{{5 * time.Millisecond}, {25 * time.Millisecond}}, maxPollers, 480,
		},
		{
			// 25 ms, then 75% of the way to 5 ms: 10 ms.
			"a faster period brings it most of the way down", 10000,
			[][]time.Duration{{25 * time.Millisecond}, {5 * time.Millisecond}}, maxPollers, 400,
		},
		{
			"a period without polls leaves the estimate", 10000,
			[][]time.Duration{{10 * time.Millisecond}, {}}, maxPollers, 400,
		},
		{
			// Stuck after max(8 × 10 ms, 250 ms): the 30 s poll counts 250 ms, a period's mean
			// of (99 × 10 + 250) / 100 = 12.4 ms, the estimate 10 + 0.35 × 2.4 = 10.84 ms.
			"a hung poll counts as long as stuckAfter, no longer", 10000,
			[][]time.Duration{{10 * time.Millisecond}, append(repeat(99, 10*time.Millisecond), 30*time.Second)}, maxPollers, 434,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			l := inFlightLimit{rate: tc.rate}
			for _, period := range tc.periods {
				for _, d := range period {
					l.observe(d)
				}
				l.fold()
			}
			g.Expect(l.limit(tc.ceiling)).To(Equal(tc.limit))
		})
	}
}

// A runner short of CPU (its scheduler fires polls late) sees its polls take longer for
// want of CPU: the estimate does not rise then, and falls as usual.
func TestInFlightLimitDoesNotRiseWhileShortOfCPU(t *testing.T) {
	g := NewWithT(t)
	l := inFlightLimit{rate: 10000}
	l.observe(10 * time.Millisecond)
	l.fold()
	g.Expect(l.short()).To(BeFalse())

	for range 100 {
		l.fire(40 * time.Millisecond)
		l.observe(200 * time.Millisecond)
	}
	g.Expect(l.short()).To(BeTrue(), "within the period already")
	l.fold()
	g.Expect(l.pollTime()).To(Equal(10*time.Millisecond), "no rise")
	g.Expect(l.short()).To(BeTrue(), "the last period was short")

	l.fire(time.Millisecond)
	l.observe(2 * time.Millisecond)
	l.fold()
	g.Expect(l.pollTime()).To(Equal(4*time.Millisecond), "a fall as usual: 10 - 0.75 × 8 ms")
	g.Expect(l.short()).To(BeFalse())

	l.fire(time.Millisecond)
	l.observe(10 * time.Millisecond)
	l.fold()
	g.Expect(l.pollTime()).To(BeNumerically(">", 4*time.Millisecond), "on time again: it rises")
}

func TestInFlightLimitCountsAPollStuckAfterEightTimesItsTime(t *testing.T) {
	g := NewWithT(t)
	var l inFlightLimit
	g.Expect(l.stuckAfter()).To(Equal(800*time.Millisecond), "before any period: 8 × the 100 ms assumed")
	l.observe(time.Millisecond)
	l.fold()
	g.Expect(l.stuckAfter()).To(Equal(250*time.Millisecond), "never sooner than 250 ms")
	for range 10 {
		l.observe(time.Second)
		l.fold()
	}
	g.Expect(l.stuckAfter()).To(BeNumerically(">", 7*time.Second), "a Genesys slow for good: its polls are not stuck")
}

func repeat(n int, d time.Duration) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = d
	}
	return s
}
