package gms

import (
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

func waits(p RetryPolicy) []time.Duration {
	b := newBackoff(p)
	var out []time.Duration
	for range p.attempts() - 1 {
		out = append(out, min(b.Step(), MaxRetryWait))
	}
	return out
}

// expectWaits asserts that the waits of p are the steps base, each stretched by up to
// retryJitter and never above MaxRetryWait.
func expectWaits(g *WithT, p RetryPolicy, base ...time.Duration) {
	g.THelper()
	got := waits(p)
	g.Expect(got).To(HaveLen(len(base)))
	for i, w := range got {
		g.Expect(w).To(BeNumerically(">=", base[i]), "wait %d of %v", i, got)
		g.Expect(w).To(BeNumerically("<=", min(time.Duration(float64(base[i])*(1+retryJitter)), MaxRetryWait)), "wait %d of %v", i, got)
	}
}

func TestBackoffWaits(t *testing.T) {
	g := NewWithT(t)
	// The steps stop growing at 25s, which jitter stretches to at most MaxRetryWait (30s).
	expectWaits(g, RetryPolicy{MaxAttempts: 6, InitialDelay: 4200 * time.Millisecond, Multiplier: 2},
		4200*time.Millisecond, 8400*time.Millisecond, 16800*time.Millisecond, 25*time.Second, 25*time.Second)
	expectWaits(g, RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 0}, time.Second, time.Second)
	expectWaits(g, RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 0.5}, time.Second, time.Second)
	expectWaits(g, RetryPolicy{MaxAttempts: 2, InitialDelay: time.Minute, Multiplier: 2}, 25*time.Second)
	g.Expect(waits(RetryPolicy{MaxAttempts: 0})).To(BeEmpty())
	g.Expect(RetryPolicy{MaxAttempts: -3}.attempts()).To(Equal(1))
}

func TestBackoffWaitsAreSpread(t *testing.T) {
	g := NewWithT(t)
	// Chats that fail together do not retry together: neither below the cap nor at it.
	for _, p := range []RetryPolicy{
		{MaxAttempts: 2, InitialDelay: time.Second, Multiplier: 2},
		{MaxAttempts: 2, InitialDelay: time.Minute, Multiplier: 2},
	} {
		seen := map[time.Duration]bool{}
		for range 20 {
			seen[waits(p)[0]] = true
		}
		g.Expect(len(seen)).To(BeNumerically(">", 10), "20 first waits of %+v", p)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := &Client{clock: clk}
	g.Expect(c.retryAfter(503, "7")).To(Equal(7 * time.Second))
	g.Expect(c.retryAfter(429, "7")).To(Equal(7 * time.Second))
	g.Expect(c.retryAfter(500, "7")).To(BeZero())
	g.Expect(c.retryAfter(503, "")).To(BeZero())
	g.Expect(c.retryAfter(503, "-1")).To(BeZero())
	g.Expect(c.retryAfter(503, "soon")).To(BeZero())
	g.Expect(c.retryAfter(503, "99999999999999999")).To(Equal(MaxRetryWait))
	g.Expect(c.retryAfter(503, clk.Now().Add(12*time.Second).Format(http.TimeFormat))).To(Equal(12 * time.Second))
	g.Expect(c.retryAfter(503, clk.Now().Add(-time.Minute).Format(http.TimeFormat))).To(BeZero())
	g.Expect(c.retryAfter(503, clk.Now().Add(time.Hour).Format(http.TimeFormat))).To(Equal(MaxRetryWait))
}
