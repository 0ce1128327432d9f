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

func TestBackoffWaits(t *testing.T) {
	g := NewWithT(t)
	g.Expect(waits(RetryPolicy{MaxAttempts: 6, InitialDelay: 4200 * time.Millisecond, Multiplier: 2})).To(Equal([]time.Duration{
		4200 * time.Millisecond, 8400 * time.Millisecond, 16800 * time.Millisecond, 30 * time.Second, 30 * time.Second,
	}))
	g.Expect(waits(RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 0})).To(Equal([]time.Duration{time.Second, time.Second}))
	g.Expect(waits(RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 0.5})).To(Equal([]time.Duration{time.Second, time.Second}))
	g.Expect(waits(RetryPolicy{MaxAttempts: 2, InitialDelay: time.Minute, Multiplier: 2})).To(Equal([]time.Duration{MaxRetryWait}))
	g.Expect(waits(RetryPolicy{MaxAttempts: 0})).To(BeEmpty())
	g.Expect(RetryPolicy{MaxAttempts: -3}.attempts()).To(Equal(1))
}

func TestRetryAfterHeader(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := &Client{clock: clk}
	answer := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	g.Expect(c.retryAfter(answer(503, "7"))).To(Equal(7 * time.Second))
	g.Expect(c.retryAfter(answer(429, "7"))).To(Equal(7 * time.Second))
	g.Expect(c.retryAfter(answer(500, "7"))).To(BeZero())
	g.Expect(c.retryAfter(answer(503, ""))).To(BeZero())
	g.Expect(c.retryAfter(answer(503, "-1"))).To(BeZero())
	g.Expect(c.retryAfter(answer(503, "soon"))).To(BeZero())
	g.Expect(c.retryAfter(answer(503, "99999999999999999"))).To(Equal(MaxRetryWait))
	g.Expect(c.retryAfter(answer(503, clk.Now().Add(12*time.Second).Format(http.TimeFormat)))).To(Equal(12 * time.Second))
	g.Expect(c.retryAfter(answer(503, clk.Now().Add(-time.Minute).Format(http.TimeFormat)))).To(BeZero())
	g.Expect(c.retryAfter(answer(503, clk.Now().Add(time.Hour).Format(http.TimeFormat)))).To(Equal(MaxRetryWait))
}
