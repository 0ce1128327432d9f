package escalation_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The Go client of api/escalation against the real handler: every call a bot makes, and
// the problems it gets back, typed.

// client is the bot's client of a runner's API.
func (r *runner) client(token string) *api.Client {
	return api.NewClient(r.srv.URL, token, r.srv.Client())
}

// problemOf is the *api.Problem an error is, or fails.
func problemOf(g *WithT, err error) *api.Problem {
	p, ok := errors.AsType[*api.Problem](err)
	g.Expect(ok).To(BeTrue(), "want a *Problem, got %v", err)
	return p
}

func TestClientCarriesAChat(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	ctx := t.Context()
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	tz := 60
	req := api.Request{
		ConversationID: "conv-client", Domain: "acme",
		User:    api.User{FirstName: "Jane", LastName: "Doe", TimeZoneOffsetMinutes: &tz},
		Subject: "Help", Attributes: map[string]string{"Plan": "Gold"}, Locale: "en-US",
	}
	g.Expect(req.Validate()).To(Succeed())

	created, isNew, err := c.Escalate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(isNew).To(BeTrue(), "201 Created")
	g.Expect(created.ID).To(HavePrefix("r0-"))
	g.Expect(created.State).To(Equal(api.ChatRequesting))
	g.Expect(created.RequestTime).NotTo(BeNil())
	again, isNew, err := c.Escalate(ctx, req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(isNew).To(BeFalse(), "200: the live chat of the conversation")
	g.Expect(again.ID).To(Equal(created.ID))
	id := created.ID
	byConversation, err := c.ChatOfConversation(ctx, "conv-client")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(byConversation.ID).To(Equal(id))
	_, err = c.ChatOfConversation(ctx, "conv-nobody")
	var notFound *api.Problem
	g.Expect(errors.As(err, &notFound)).To(BeTrue())
	g.Expect(notFound.Status).To(Equal(http.StatusNotFound))

	var gid string
	g.Eventually(func(g Gomega) {
		ch, err := c.Chat(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ch.State).To(Equal(api.ChatWaitingForAgent))
		gid = ch.GenesysChatID
	}).Should(Succeed())
	g.Expect(r.env.Sim.Chats()[0].UserData).To(HaveKeyWithValue("Plan", "Gold"))

	page, err := c.Events(ctx, id, 0, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.ChatID).To(Equal(id))
	g.Expect(page.Events).To(ConsistOf(SatisfyAll(
		HaveField("Seq", BeEquivalentTo(1)), HaveField("Kind", api.EventNotice), HaveField("Canned", "WaitingForAgent"), HaveField("Time", Not(BeZero())))))
	g.Expect(page.Next).To(BeEquivalentTo(1))

	// A long poll waits for the agent.
	got := make(chan api.EventPage, 1)
	go func() {
		p, err := c.Events(ctx, id, page.Next, 20*time.Second)
		if err == nil {
			got <- p
		}
	}()
	g.Consistently(got).WithTimeout(100*time.Millisecond).ShouldNot(Receive(), "the long poll waits while nothing happens")
	g.Expect(r.env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice", Email: "alice@acme.example"})).To(Succeed())
	g.Eventually(got).Should(Receive(HaveField("Events", ContainElement(SatisfyAll(
		HaveField("Seq", BeEquivalentTo(2)), HaveField("Kind", api.EventAgentJoined), HaveField("Agent", "Alice"))))))
	g.Eventually(func(g Gomega) {
		ch, err := c.Chat(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ch.State).To(Equal(api.ChatConnected))
		g.Expect(ch.Agent).To(Equal(&api.Agent{Name: "Alice", Email: "alice@acme.example"}))
		g.Expect(ch.ConnectTime).NotTo(BeNil())
	}).Should(Succeed())

	g.Expect(c.SendMessage(ctx, id, api.MessageRequest{Text: "thanks & bye", Type: "text"})).To(Succeed())
	g.Expect(c.Typing(ctx, id, true)).To(Succeed())
	g.Expect(c.Typing(ctx, id, false)).To(Succeed())
	g.Expect(c.Present(ctx, id, api.PresentRequest{URL: "https://acme.example/card", Title: "Card"})).To(Succeed())
	sc, _ := r.env.Sim.Chat(gid)
	g.Expect(sc.Transcript).To(ContainElement(HaveField("Text", "thanks & bye")))
	g.Expect(sc.Transcript).To(ContainElement(HaveField("Text", "https://acme.example/card")))

	g.Expect(r.env.Sim.AgentMessage(gid, "anything else?")).To(Succeed())
	g.Eventually(func() []api.Event {
		p, err := c.Events(ctx, id, 2, time.Second)
		g.Expect(err).NotTo(HaveOccurred())
		return p.Events
	}).Should(ContainElement(SatisfyAll(HaveField("Kind", api.EventMessage), HaveField("Text", "anything else?"))))

	closed, err := c.Close(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(closed.State).To(Equal(api.ChatEnded))
	g.Expect(closed.State.Terminal()).To(BeTrue())
	g.Expect(closed.EndReason).To(Equal(api.EndUserClosed))
	g.Expect(closed.EndTime).NotTo(BeNil())
	closed, err = c.Close(ctx, id)
	g.Expect(err).NotTo(HaveOccurred(), "closing twice is fine")
	g.Expect(closed.EndReason).To(Equal(api.EndUserClosed))

	p := problemOf(g, c.SendMessage(ctx, id, api.MessageRequest{Text: "late"}))
	g.Expect(p.Status).To(Equal(http.StatusConflict))
	g.Expect(p.Type).To(Equal(api.ProblemConflict))
}

func TestClientGetsTypedProblems(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	r := start(t, func(s *chat.Settings) {
		s.Queue, s.SupportPresentContent, s.Agents, s.MaxChatsPerAgent = "billing", false, 1, 1
	}, nil, "r0", nil)
	c := r.client(token)
	escalation := func(conv string) api.Request {
		return api.Request{ConversationID: conv, Domain: "acme", Queue: "billing", User: api.User{Name: "Jane"}}
	}

	p := problemOf(g, second(r.client("wrong").Chat(ctx, "r0-1")))
	g.Expect(*p).To(matchProblem(api.ProblemUnauthorized, http.StatusUnauthorized, ""))

	p = problemOf(g, second(c.Chat(ctx, "r0-nope")))
	g.Expect(*p).To(matchProblem(api.ProblemNotFound, http.StatusNotFound, ""))

	other := escalation("c1")
	other.Queue = "sales"
	_, _, err := c.Escalate(ctx, other)
	p = problemOf(g, err)
	g.Expect(*p).To(matchProblem(api.ProblemInvalidField, http.StatusUnprocessableEntity, "queue"))

	created, _, err := c.Escalate(ctx, escalation("c2"))
	g.Expect(err).NotTo(HaveOccurred())
	p = problemOf(g, c.Present(ctx, created.ID, api.PresentRequest{URL: "https://example.com"}))
	g.Expect(*p).To(matchProblem(api.ProblemPresentContentDisabled, http.StatusConflict, ""))
	g.Expect(p.Detail).To(ContainSubstring("supportPresentContent"))

	_, _, err = c.Escalate(ctx, escalation("c3"))
	p = problemOf(g, err)
	g.Expect(*p).To(matchProblem(api.ProblemOverCapacity, http.StatusServiceUnavailable, ""))
	g.Expect(p.RetryAfter).To(Equal(10*time.Second), "the Retry-After header")

	p = problemOf(g, second(c.Events(ctx, created.ID, -1, 0)))
	g.Expect(*p).To(matchProblem(api.ProblemInvalidField, http.StatusUnprocessableEntity, "after"))
}

// matchProblem matches a problem's type, status and field, with a title and detail set.
func matchProblem(typ string, status int, field string) OmegaMatcher {
	return SatisfyAll(HaveField("Type", typ), HaveField("Status", status), HaveField("Field", field),
		HaveField("Title", Not(BeEmpty())), HaveField("Detail", Not(BeEmpty())))
}

// second is the error of a call's two results.
func second[T any](_ T, err error) error { return err }

// The server and a bot validate with the same code: what Validate refuses, the server
// refuses on the same field, whatever the bound.
func TestServerRefusesWhatValidateRefuses(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	r := start(t, nil, nil, "r0", nil)
	c := api.NewClient(r.srv.URL, token, &http.Client{Timeout: 5 * time.Second})
	tz := -api.MaxTimeZoneOffsetMinutes - 1
	long := func(n int) string { return strings.Repeat("ü", n+1) }
	requests := []api.Request{
		{Domain: "acme"},
		{ConversationID: long(api.MaxConversationIDLength), Domain: "acme"},
		{ConversationID: "c", Domain: "acme", Queue: long(api.MaxNameLength)},
		{ConversationID: "c", Domain: "acme", User: api.User{Name: long(api.MaxNameLength)}},
		{ConversationID: "c", Domain: "acme", User: api.User{Name: "J", TimeZoneOffsetMinutes: &tz}},
		{ConversationID: "c", Domain: "acme", User: api.User{Name: "J"}, Locale: long(api.MaxLocaleLength)},
		{ConversationID: "c", Domain: "acme", User: api.User{Name: "J"}, Attributes: map[string]string{long(api.MaxAttributeKeyLength): "v"}},
	}
	for _, req := range requests {
		fe, ok := errors.AsType[*api.FieldError](req.Validate())
		g.Expect(ok).To(BeTrue(), "%+v", req)
		_, _, err := c.Escalate(ctx, req)
		p := problemOf(g, err)
		g.Expect(p.Status).To(Equal(http.StatusUnprocessableEntity))
		g.Expect(p.Field).To(Equal(fe.Field))
		g.Expect(p.Detail).To(Equal(fe.Error()))
	}
	msg := api.MessageRequest{Text: "hi", Type: long(api.MaxMessageTypeLength)}
	fe, _ := errors.AsType[*api.FieldError](msg.Validate())
	g.Expect(fe).NotTo(BeNil())
	p := problemOf(g, c.SendMessage(ctx, "r0-x", msg))
	g.Expect(p.Field).To(Equal(fe.Field), "validated before the chat is looked up")
	g.Expect(r.env.Sim.Chats()).To(BeEmpty(), "nothing reached Genesys")
}

func TestClientAbandonsALongPollWithItsContext(t *testing.T) {
	g := NewWithT(t)
	r := start(t, nil, nil, "r0", nil)
	c := r.client(token)
	created, _, err := c.Escalate(t.Context(), api.Request{ConversationID: "c", Domain: "acme", User: api.User{Name: "J"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() []api.Event {
		p, err := c.Events(t.Context(), created.ID, 0, 0)
		g.Expect(err).NotTo(HaveOccurred())
		return p.Events
	}).WithTimeout(5*time.Second).Should(HaveLen(1), "the waiting notice; nothing comes after it")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Events(ctx, created.ID, 1, 30*time.Second)
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
	g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
}
