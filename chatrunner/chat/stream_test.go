package chat_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// What the escalation API's streams read from the engine.

func TestTailReadsAfterASeqAndSignalsTheNext(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-tail")
	tail, err := h.m.Tail(id, 0)
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(tail.Events).To(HaveLen(1))
	h.Expect(tail.Over).To(BeFalse())
	tail, _ = h.m.Tail(id, 1)
	h.Expect(tail.Events).To(BeEmpty())
	h.Consistently(tail.Grew).WithTimeout(50*time.Millisecond).ShouldNot(BeClosed(), "no wait cap: it closes on the next event only")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.Eventually(tail.Grew).Should(BeClosed())
	_, err = h.m.Tail("r0-unknown", 0)
	h.Expect(err).To(MatchError(chat.ErrNotFound))

	_, err = h.m.Close(context.Background(), id)
	h.Expect(err).NotTo(HaveOccurred())
	all := h.events(id)
	h.Expect(chat.TerminalKind(all[len(all)-1].Kind)).To(BeTrue())
	tail, _ = h.m.Tail(id, all[len(all)-1].Seq)
	h.Expect(tail.Over).To(BeTrue())
}

func TestFeedReadsEveryChatOnceAndInOrder(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	a, gid := h.escalate("conv-a")
	b, _ := h.escalate("conv-b")
	cursor := map[string]int64{}
	read := func() map[string][]int64 {
		got := map[string][]int64{}
		for _, ce := range h.m.Feed(cursor) {
			for _, e := range ce.Events {
				got[ce.ChatID] = append(got[ce.ChatID], e.Seq)
			}
		}
		return got
	}
	h.Expect(read()).To(Equal(map[string][]int64{a: {1}, b: {1}}))
	h.Expect(read()).To(BeEmpty(), "the cursor advanced")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.Eventually(read).Should(HaveKeyWithValue(a, ContainElement(int64(2))))
	h.Expect(cursor).To(HaveKey(b))
	cursor["r0-forgotten"] = 3
	read()
	h.Expect(cursor).NotTo(HaveKey("r0-forgotten"), "the cursor stays as large as the chats held")
}

func TestStoppingClosesWhenTheManagerStops(t *testing.T) {
	g := NewWithT(t)
	m := chat.NewManager(chat.Options{Settings: chattest.Settings()})
	g.Expect(m.Stopping()).To(BeNil(), "before Run: never closes")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	g.Eventually(m.Stopping).WithTimeout(5 * time.Second).ShouldNot(BeNil())
	stopping := m.Stopping()
	g.Expect(stopping).NotTo(BeClosed())
	cancel()
	g.Eventually(stopping).WithTimeout(5*time.Second).Should(BeClosed(), "open streams end and let the server shut down")
	<-done
}
