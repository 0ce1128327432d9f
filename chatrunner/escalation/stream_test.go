package escalation_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The event streams (Accept: text/event-stream) against the real handler and engine.

// startStreaming serves an engine with stream options the default runner does not set.
func startStreaming(t *testing.T, maxStreams int, heartbeat time.Duration) *runner {
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0"})
	srv := httptest.NewServer(escalation.NewHandler(escalation.Options{
		Engine: env.Manager, Tokens: func() ([]string, error) { return []string{token}, nil },
		MaxStreams: maxStreams, Heartbeat: heartbeat,
	}))
	t.Cleanup(srv.Close)
	return &runner{env: env, srv: srv}
}

// escalateWaiting escalates a conversation and returns the chat id and its Genesys chat
// id once it waits for an agent.
func escalateWaiting(g *WithT, r *runner, c *api.Client, conversation string) (id, gid string) {
	created, _, err := c.Escalate(context.Background(), api.Request{ConversationID: conversation, Domain: "acme", User: api.User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		ch, err := c.Chat(context.Background(), created.ID)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ch.State).To(Equal(api.ChatWaitingForAgent))
		gid = ch.GenesysChatID
	}).WithTimeout(5 * time.Second).Should(Succeed())
	return created.ID, gid
}

// drain reads a stream to its end into a channel, then the error that ended it.
func drain(s *api.EventStream) (<-chan api.Event, <-chan error) {
	events, end := make(chan api.Event, 100), make(chan error, 1)
	go func() {
		for {
			e, err := s.Next()
			if err != nil {
				end <- err
				close(events)
				return
			}
			events <- e
		}
	}()
	return events, end
}

func TestStreamDeliversEventsInOrderUntilTheTerminalOne(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	id, gid := escalateWaiting(g, r, c, "conv-stream")

	s, err := c.Stream(t.Context(), id, 0)
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	events, end := drain(s)
	g.Eventually(events).Should(Receive(SatisfyAll(HaveField("Seq", BeEquivalentTo(1)), HaveField("Canned", "WaitingForAgent"))))
	g.Consistently(end).WithTimeout(100*time.Millisecond).ShouldNot(Receive(), "a live chat's stream stays open")

	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(events).Should(Receive(SatisfyAll(HaveField("Seq", BeEquivalentTo(2)), HaveField("Kind", api.EventAgentJoined))), "streamed as it happens")
	g.Expect(r.env.Sim.AgentMessage(gid, "hello")).To(Succeed())
	g.Expect(r.env.Sim.Close(gid)).To(Succeed())

	var got []api.Event
	g.Eventually(end).Should(Receive(MatchError(io.EOF)), "the stream ends after the terminal event")
	for e := range events {
		got = append(got, e)
	}
	g.Expect(got).NotTo(BeEmpty())
	for i, e := range got {
		g.Expect(e.Seq).To(BeEquivalentTo(3+i), "in order, without gaps")
	}
	g.Expect(got).To(ContainElement(SatisfyAll(HaveField("Kind", api.EventMessage), HaveField("Text", "hello"))))
	g.Expect(got[len(got)-1].Kind).To(Equal(api.EventEnded))

	page, err := c.Events(t.Context(), id, 0, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Events[2:]).To(Equal(got), "the same events as the long poll")
}

func TestStreamResumesAfterLastEventID(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	id, gid := escalateWaiting(g, r, c, "conv-resume")
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Expect(r.env.Sim.AgentMessage(gid, "one")).To(Succeed())
	g.Eventually(func() int {
		page, _ := c.Events(t.Context(), id, 0, 0)
		return len(page.Events)
	}).Should(BeNumerically(">=", 3))

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.srv.URL+"/v1/chats/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "2")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream"))
	lines := bufio.NewScanner(resp.Body)
	var first []string
	for lines.Scan() && len(first) < 3 {
		if l := lines.Text(); l != "" && !strings.HasPrefix(l, ":") {
			first = append(first, l)
		}
	}
	g.Expect(first[0]).To(Equal("id: 3"), "the first event after Last-Event-ID")
	g.Expect(first[1]).To(HavePrefix("event: "))
	g.Expect(first[2]).To(HavePrefix(`data: {"seq":3,`))

	// Resuming with the client skips what was seen, and after the end there is nothing.
	_, err = c.Close(t.Context(), id)
	g.Expect(err).NotTo(HaveOccurred())
	all, err := c.Events(t.Context(), id, 0, 0)
	g.Expect(err).NotTo(HaveOccurred())
	last := all.Next
	s, err := c.Stream(t.Context(), id, last-1)
	g.Expect(err).NotTo(HaveOccurred())
	e, err := s.Next()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.Seq).To(Equal(last))
	g.Expect(e.Kind).To(Equal(api.EventEnded))
	_, err = s.Next()
	g.Expect(err).To(MatchError(io.EOF))
	s.Close()

	s, err = c.Stream(t.Context(), id, last)
	g.Expect(err).NotTo(HaveOccurred(), "204: resumed after the end")
	_, err = s.Next()
	g.Expect(err).To(MatchError(io.EOF))
	s.Close()
}

func TestStreamSendsHeartbeatsAndIsBounded(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	r := startStreaming(t, 1, 20*time.Millisecond)
	c := r.client(token)
	id, _ := escalateWaiting(g, r, c, "conv-bounded")

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+"/v1/chats/"+id+"/events?after=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	heartbeats := 0
	for heartbeats < 2 && lines.Scan() {
		if lines.Text() == ": heartbeat" {
			heartbeats++
		}
	}
	g.Expect(heartbeats).To(Equal(2), "a quiet stream sends comments")

	_, err = c.Stream(t.Context(), id, 0)
	p := problemOf(g, err)
	g.Expect(p.Status).To(Equal(http.StatusServiceUnavailable), "beyond the runner's limit")
	g.Expect(p.RetryAfter).To(Equal(5 * time.Second))
	_, err = c.Events(t.Context(), id, 0, 0)
	g.Expect(err).NotTo(HaveOccurred(), "the long poll is not limited")

	cancel()
	g.Eventually(func() error {
		s, err := c.Stream(t.Context(), id, 0)
		if err == nil {
			s.Close()
		}
		return err
	}).Should(Succeed(), "the slot is free once its reader left")
}

func TestStreamRefusesWhatItCannotServe(t *testing.T) {
	g := NewWithT(t)
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	p := problemOf(g, second(c.Stream(t.Context(), "r0-unknown", 0)))
	g.Expect(p.Status).To(Equal(http.StatusNotFound))
	p = problemOf(g, second(c.Stream(t.Context(), "r0-unknown", -1)))
	g.Expect(p.Field).To(Equal("after"))
}

func TestStreamReachingAnotherRunnerIsForwardedLive(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	f := startFleet(t)
	f.replicas.Store(3)
	conv := "conv-forwarded"
	own := owner(conv, 3)
	other := f.runners[(own+1)%3]
	c := other.client(token)
	id, gid := escalateWaiting(g, f.runners[own], c, conv)
	g.Expect(id).To(HavePrefix(escalation.ChatIDPrefix(own) + "-"))

	s, err := c.Stream(t.Context(), id, 0)
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	events, end := drain(s)
	g.Eventually(events).Should(Receive(HaveField("Seq", BeEquivalentTo(1))), "flushed through the forwarding runner while the chat lives")
	g.Expect(f.runners[own].env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Eventually(events).Should(Receive(HaveField("Kind", api.EventAgentJoined)))
	_, err = c.Close(t.Context(), id)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(end).Should(Receive(MatchError(io.EOF)))
	var kinds []api.EventKind
	for e := range events {
		kinds = append(kinds, e.Kind)
	}
	g.Expect(kinds).NotTo(BeEmpty())
	g.Expect(kinds[len(kinds)-1]).To(Equal(api.EventEnded))
	g.Expect(errors.Is(second(s.Next()), io.EOF)).To(BeTrue())
}
