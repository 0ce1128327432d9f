package gmssim

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestStatsShowRequestGapsAndIdleEnds: the longest gap between a client's requests on a
// chat, the gap still open when the client stopped, the reset, and the chats the idle
// timeout ended, through the control client.
func TestStatsShowRequestGapsAndIdleEnds(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	c := newTC(t, Options{Clock: clk, IdleTimeout: 5 * time.Second})
	g := c.g
	ctl := NewControlClient(c.srv.URL, c.srv.Client())
	ctx := context.Background()
	polled, _ := c.requestChat(nil)
	dropped, _ := c.requestChat(nil)

	clk.Step(time.Second)
	c.refresh(polled, 1)
	c.refresh(dropped, 1)
	clk.Step(3 * time.Second) // polled's longest gap: 3 s
	c.refresh(polled, 1)
	clk.Step(time.Second)
	c.refresh(polled, 1)
	st, err := ctl.Stats(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(Stats{Chats: 2, Live: 2, MaxRequestGap: 4 * time.Second,
		RequestGapP50: 3 * time.Second, RequestGapP99: 3 * time.Second}), "dropped's gap is still open: 4 s")

	g.Expect(ctl.ResetStats(ctx)).To(Succeed())
	clk.Step(time.Second)
	c.refresh(polled, 1)
	st, err = ctl.Stats(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.MaxRequestGap).To(Equal(5*time.Second), "dropped: open since its last request")
	g.Expect(st.RequestGapP50).To(Equal(time.Second), "polled: only the gap after the reset")

	// Past the idle timeout the dropped chat ends: no longer live, counted as idled out.
	clk.Step(time.Second)
	c.refresh(polled, 1)
	st, err = ctl.Stats(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(Stats{Chats: 2, Live: 1, EndedByIdleTimeout: 1, MaxRequestGap: time.Second,
		RequestGapP50: time.Second, RequestGapP99: time.Second}))
}
