package gms_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// epoch is the fake clocks' start.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// result is the outcome of a call run in the background.
type result struct {
	resp *gms.Response
	err  error
}

// async runs call in the background; its result arrives on the channel.
func async(call func() (*gms.Response, error)) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := call()
		ch <- result{resp, err}
	}()
	return ch
}

// expectWait asserts that the client, after attempt number attempts() failed, waits exactly
// d on clk before its next attempt: a Retry-After, or the cap.
func expectWait(g *WithT, clk *clocktesting.FakeClock, attempts func() int, d time.Duration) {
	g.THelper()
	expectWaitWithin(g, clk, attempts, d, d)
}

// expectBackoff asserts that the client waits a back-off step of d with its jitter: d, or
// the greatest unjittered step when d is more, stretched by up to a fifth, never above
// gms.MaxRetryWait.
func expectBackoff(g *WithT, clk *clocktesting.FakeClock, attempts func() int, d time.Duration) {
	g.THelper()
	lo := min(d, gms.MaxRetryWait*5/6)
	expectWaitWithin(g, clk, attempts, lo, min(lo*6/5, gms.MaxRetryWait))
}

// expectWaitWithin asserts that the client, after attempt number attempts() failed, waits
// between lo and hi on clk before its next attempt: it is still waiting after lo-1ms, and
// has attempted again after hi.
func expectWaitWithin(g *WithT, clk *clocktesting.FakeClock, attempts func() int, lo, hi time.Duration) {
	g.THelper()
	g.Eventually(clk.HasWaiters).Should(BeTrue(), "the client waits before its next attempt")
	n := attempts()
	clk.Step(lo - time.Millisecond)
	g.Expect(clk.HasWaiters()).To(BeTrue(), "the wait is longer than %s", lo-time.Millisecond)
	g.Expect(attempts()).To(Equal(n))
	clk.Step(hi - lo + time.Millisecond)
	g.Eventually(attempts).Should(Equal(n+1), "the client attempts again within %s", hi)
}

// receive waits for a background call's result.
func receive(g *WithT, ch <-chan result) result {
	g.THelper()
	var r result
	g.Eventually(ch).Should(Receive(&r))
	return r
}

// asGMSError asserts that err is a *gms.Error and returns it.
func asGMSError(g *WithT, err error) *gms.Error {
	g.THelper()
	var e *gms.Error
	g.Expect(err).To(BeAssignableToTypeOf(e))
	g.Expect(err).To(HaveOccurred())
	return err.(*gms.Error)
}

// call is one observed attempt.
type call struct {
	op  gms.Operation
	err error
}

// observer records what the client reports.
type observer struct {
	mu      sync.Mutex
	calls   []call
	retries []gms.Operation
}

func (o *observer) Called(op gms.Operation, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d < 0 {
		panic("negative duration")
	}
	o.calls = append(o.calls, call{op, err})
}

func (o *observer) Retried(op gms.Operation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries = append(o.retries, op)
}

func (o *observer) snapshot() ([]call, []gms.Operation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]call(nil), o.calls...), append([]gms.Operation(nil), o.retries...)
}

// ctx returns a context that ends with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
