package chat

import (
	"context"
	"testing"
	"time"
)

// runManager runs a manager made from opts until the test ends, and returns it with the
// context its calls use.
func runManager(t *testing.T, opts Options) (*Manager, context.Context) {
	t.Helper()
	m := NewManager(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, ctx
}

// fakeClockPollers returns a pool on clk that has learnt polls take a millisecond, so a
// poll counts as stuck after 250 ms.
func fakeClockPollers(clk interface{ Now() time.Time }) *pollers {
	p := newPollers()
	p.now = clk.Now
	p.limiter.observe(time.Millisecond)
	p.limiter.fold()
	return p
}
