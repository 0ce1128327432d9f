package escalation_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The gateway-wide stream GET /v1/events.

// drainAll reads a gateway stream into a channel until it breaks.
func drainAll(s *api.ChatEventStream) <-chan api.ChatEvent {
	events := make(chan api.ChatEvent, 100)
	go func() {
		defer close(events)
		for {
			e, err := s.Next()
			if err != nil {
				return
			}
			events <- e
		}
	}()
	return events
}

func TestGatewayStreamSeesEveryChatOfThreeRunners(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	f := startFleet(t)
	f.replicas.Store(3)
	ids, gids := map[int]string{}, map[int]string{}
	for i := 0; len(ids) < 3; i++ {
		conv := fmt.Sprintf("conv-all-%d", i)
		if _, ok := ids[owner(conv, 3)]; !ok {
			ids[owner(conv, 3)], gids[owner(conv, 3)] = escalateWaiting(g, f.runners[0], f.runners[0].client(token), conv)
		}
	}

	s, err := f.runners[1].client(token).StreamAll(t.Context(), time.Time{})
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	events := drainAll(s)
	seen := map[string]int64{}
	g.Eventually(func() map[string]int64 {
		for {
			select {
			case e := <-events:
				g.Expect(e.Seq).To(Equal(seen[e.ChatID]+1), "each chat's events in order")
				seen[e.ChatID] = e.Seq
			default:
				return seen
			}
		}
	}).Should(And(HaveKey(ids[0]), HaveKey(ids[1]), HaveKey(ids[2])), "every runner's chats, through one connection")

	far := 0 // the stream was opened on runner 1: runner 0's events come through its peer stream
	g.Expect(f.runners[far].env.Sim.AgentJoin(gids[far], gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(events).Should(Receive(SatisfyAll(HaveField("ChatID", ids[far]), HaveField("Kind", api.EventAgentJoined))))

	f.replicas.Store(2)
	g.Eventually(events).Should(BeClosed(), "scaled: the stream ends, so that the bot reconnects to the new set of runners")
}

func TestGatewayStreamIsRefusedWhileARunnerCannotStream(t *testing.T) {
	g := NewWithT(t)
	f := startFleet(t)
	f.replicas.Store(3)
	f.down.Store(3) // runner 2
	_, err := f.runners[0].client(token).StreamAll(t.Context(), time.Time{})
	p := problemOf(g, err)
	g.Expect(p.Status).To(Equal(http.StatusServiceUnavailable), "a stream without runner 2 would miss its chats")
	g.Expect(p.Detail).To(ContainSubstring("Runner 2"))
}

func TestGatewayStreamNamesEachEventByChatAndSeq(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	id, _ := escalateWaiting(g, r, c, "conv-ids")

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "id: ") {
	}
	g.Expect(lines.Text()).To(Equal("id: " + id + ":1"))

	future, err := c.StreamAll(t.Context(), time.Now().Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	defer future.Close()
	g.Consistently(drainAll(future)).WithTimeout(600*time.Millisecond).ShouldNot(Receive(), "nothing before since")

	status, _, body := r.call(g, http.MethodGet, "/v1/events?since=yesterday", nil)
	g.Expect(status).To(Equal(http.StatusUnprocessableEntity))
	g.Expect(body["field"]).To(Equal("since"))
}
