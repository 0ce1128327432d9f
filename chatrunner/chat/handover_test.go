package chat_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// pair is two runners (ordinals 0 and 1) on one simulator and one in-memory store.
type pair struct {
	*WithT
	t     *testing.T
	store *chattest.MemStore
	a, b  *chattest.Env
}

func newPair(t *testing.T) *pair {
	t.Helper()
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	g.SetDefaultEventuallyPollingInterval(5 * time.Millisecond)
	store := chattest.NewMemStore(chatstore.ChatsPerShard)
	a := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0", Ordinal: 0, Store: store})
	b := chattest.StartOn(t, a.URL, chattest.Settings(), chat.Options{IDPrefix: "r1", Ordinal: 1, Store: store})
	b.Sim = a.Sim
	return &pair{WithT: g, t: t, store: store, a: a, b: b}
}

// all reads every event of a chat on a runner.
func (p *pair) all(m *chat.Manager, id string) []chat.Event {
	var out []chat.Event
	for {
		evs, err := m.Events(context.Background(), id, int64(len(out)), 0)
		p.Expect(err).NotTo(HaveOccurred())
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
	}
}

// agentTexts returns the texts of a chat's agent messages, in seq order.
func agentTexts(evs []chat.Event) []string {
	var out []string
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			panic(fmt.Sprintf("event %d has seq %d", i+1, e.Seq))
		}
		if e.Kind == chat.KindMessage {
			out = append(out, e.Text)
		}
	}
	return out
}

// connected escalates on runner a and has an agent join and say n numbered messages.
func (p *pair) connected(conversation string, n int) (id, gid string) {
	v, created, err := p.a.Manager.Escalate(context.Background(), escalation(conversation))
	p.Expect(err).NotTo(HaveOccurred())
	p.Expect(created).To(BeTrue())
	p.Expect(p.store.Records(0)).To(HaveKey(v.ID), "durable before the bot hears of it")
	p.Eventually(func() string { got, _ := p.a.Manager.Get(v.ID); return got.GenesysChatID }).ShouldNot(BeEmpty())
	got, _ := p.a.Manager.Get(v.ID)
	gid = got.GenesysChatID
	p.Expect(p.a.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	for i := 1; i <= n; i++ {
		p.Expect(p.a.Sim.AgentMessage(gid, fmt.Sprintf("agent %d", i))).To(Succeed())
	}
	p.Eventually(func() []string { return agentTexts(p.all(p.a.Manager, v.ID)) }).Should(HaveLen(n))
	return v.ID, gid
}

func numbered(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("agent %d", i))
	}
	return out
}

// TestCrashedRunnersChatIsAdoptedWithoutASeam: runner 0 stops with no final write while
// the agent keeps talking; runner 1 resumes the chat from the store, derives every event
// again with the same seq and content, goes on with the next seq, and the user's next
// message reaches the agent.
func TestCrashedRunnersChatIsAdoptedWithoutASeam(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-crash", 3)
	before := p.all(p.a.Manager, id)
	p.Eventually(func() int64 {
		r, _ := chatstore.Decode(p.store.Records(0)[id])
		return r.NextSeq
	}).Should(Equal(int64(len(before))+1), "the record follows the events")

	p.a.Stop() // a crash: no Release, no final write
	p.Expect(p.a.Sim.AgentMessage(gid, "agent 4")).To(Succeed())

	resumed, failed := p.b.Manager.Resume(0, p.store.Load(0))
	p.Expect(resumed).To(Equal(1))
	p.Expect(failed).To(BeZero())
	p.Expect(p.b.Sim.AgentMessage(gid, "agent 5")).To(Succeed())
	p.Eventually(func() []string { return agentTexts(p.all(p.b.Manager, id)) }).Should(Equal(numbered(1, 5)))
	after := p.all(p.b.Manager, id)
	p.Expect(after[:len(before)]).To(Equal(before), "the same seq, kind, text and time for every event the first runner had")
	v, err := p.b.Manager.Get(id)
	p.Expect(err).NotTo(HaveOccurred())
	p.Expect(v.State).To(Equal(chatv1alpha1.ChatConnected))
	p.Expect(v.Agent.Name).To(Equal("Ann"))

	p.Expect(p.b.Manager.SendMessage(context.Background(), id, "user after the hand-over", "text", "m-1")).To(Succeed())
	p.Eventually(func() []string { return clientTexts(p.b.Sim, gid) }).Should(ContainElement("user after the hand-over"))
	p.Expect(p.b.Manager.Handover()).To(Equal(chat.HandoverCounts{Resumed: 1, Adopted: 1}))
}

// TestGracefulReleaseHandsOver: a released chat leaves the runner at once (its readers
// are told to ask again, waits end), its final record is in the store, and the successor
// goes on from it.
func TestGracefulReleaseHandsOver(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-graceful", 2)
	before := p.all(p.a.Manager, id)
	waited := make(chan error, 1)
	go func() {
		_, err := p.a.Manager.Events(context.Background(), id, 1000, time.Minute)
		waited <- err
	}()
	p.Expect(p.a.Manager.Release(0)).To(Equal(1))
	p.Eventually(waited).Should(Receive(Or(BeNil(), MatchError(chat.ErrHandedOver))), "a long poll ends when its chat leaves")
	_, err := p.a.Manager.Get(id)
	p.Expect(errors.Is(err, chat.ErrHandedOver)).To(BeTrue(), "%v", err)
	_, _, err = p.a.Manager.Escalate(context.Background(), escalation("conv-graceful"))
	p.Expect(err).NotTo(HaveOccurred(), "the conversation is no longer live here")
	p.Expect(p.a.Manager.Status().ActiveChats).To(Equal(int32(1)), "only the new escalation")

	rec, err := chatstore.Decode(p.store.Records(0)[id])
	p.Expect(err).NotTo(HaveOccurred())
	p.Expect(rec.NextSeq).To(Equal(int64(len(before))+1), "the final record is where the runner was")
	_, _ = p.b.Manager.Resume(0, []chat.Stored{{Record: rec}})
	p.Expect(p.a.Sim.AgentMessage(gid, "agent 3")).To(Succeed())
	p.Eventually(func() []string { return agentTexts(p.all(p.b.Manager, id)) }).Should(Equal(numbered(1, 3)))
}

// TestDroppedChatsAreNotTouched: a runner that lost its Lease stops polling at once.
func TestDroppedChatsAreNotTouched(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-partition", 1)
	p.Expect(p.a.Manager.Drop(0)).To(Equal(1))
	last := func() time.Time { c, _ := p.a.Sim.Chat(gid); return c.LastRequest }
	// A poll in flight at the drop may still land; then none for three poll intervals.
	p.Eventually(func() time.Duration { return time.Since(last()) }).Should(BeNumerically(">", 60*time.Millisecond))
	n := last()
	p.Consistently(last, 300*time.Millisecond, 20*time.Millisecond).Should(Equal(n), "no poll after the drop (polls are 20 ms apart)")
	_, err := p.a.Manager.Get(id)
	p.Expect(errors.Is(err, chat.ErrHandedOver)).To(BeTrue())
}

// TestClientMessageIDIsSentOnce: a retried message with the same client id reaches the
// agent once, also after a hand-over.
func TestClientMessageIDIsSentOnce(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-retry", 0)
	for range 2 {
		p.Expect(p.a.Manager.SendMessage(context.Background(), id, "only once", "text", "msg-1")).To(Succeed())
	}
	p.Expect(p.a.Manager.Release(0)).To(Equal(1))
	_, _ = p.b.Manager.Resume(0, p.store.Load(0))
	p.Expect(p.b.Manager.SendMessage(context.Background(), id, "only once", "text", "msg-1")).To(Succeed())
	p.Expect(p.b.Manager.SendMessage(context.Background(), id, "second", "text", "msg-2")).To(Succeed())
	p.Expect(clientTexts(p.a.Sim, gid)).To(Equal([]string{"only once", "second"}))
}

// TestClientMessageIDIsDurableBeforeTheAnswer: the record holding a client message id is
// written (Synced) before SendMessage returns; a store that cannot write does not fail a
// message Genesys took.
func TestClientMessageIDIsDurableBeforeTheAnswer(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-durable-id", 0)
	before := p.store.Syncs()
	release := p.store.Hold()
	sent := make(chan error, 1)
	go func() { sent <- p.a.Manager.SendMessage(context.Background(), id, "with an id", "text", "msg-1") }()
	p.Eventually(p.store.Syncs).Should(Equal(before + 1))
	p.Consistently(sent, 100*time.Millisecond).ShouldNot(Receive(), "no answer while the write is in flight")
	release()
	p.Eventually(sent).Should(Receive(Succeed()))
	p.Expect(p.store.Syncs()).To(Equal(before+1), "one write asked for, before the answer")
	p.Expect(p.a.Manager.SendMessage(context.Background(), id, "without an id", "text", "")).To(Succeed())
	p.Expect(p.store.Syncs()).To(Equal(before+1), "a message without an id needs no write")

	p.store.Fail(errors.New("the API server is away"))
	p.Expect(p.a.Manager.SendMessage(context.Background(), id, "store away", "text", "msg-2")).To(Succeed())
	p.Expect(clientTexts(p.a.Sim, gid)).To(Equal([]string{"with an id", "without an id", "store away"}))
	p.Expect(p.a.Manager.SendMessage(context.Background(), id, "store away", "text", "msg-2")).To(Succeed())
	p.Expect(clientTexts(p.a.Sim, gid)).To(HaveLen(3), "the retry is still recognised")
}

// TestRequestingChatIsFailedOnResume: a record without a Genesys session cannot be
// resumed; the bot is told through the chat's events and state.
func TestRequestingChatIsFailedOnResume(t *testing.T) {
	p := newPair(t)
	rec := chatstore.Record{ID: "r0-00000000000000aa", ConversationID: "conv-requesting", State: chatv1alpha1.ChatRequesting, NextSeq: 1, RequestTime: time.Now().UnixMilli()}
	resumed, failed := p.b.Manager.Resume(0, []chat.Stored{{Record: rec}})
	p.Expect(resumed).To(BeZero())
	p.Expect(failed).To(Equal(1))
	v, err := p.b.Manager.Get(rec.ID)
	p.Expect(err).NotTo(HaveOccurred())
	p.Expect(v.State).To(Equal(chatv1alpha1.ChatFailed))
	evs := p.all(p.b.Manager, rec.ID)
	p.Expect(evs[len(evs)-1].Kind).To(Equal(chat.KindFailed))
	p.Expect(p.store.Records(0)).NotTo(HaveKey(rec.ID), "an ended chat leaves the store")
}

// TestEscalationIsRefusedWhenTheStoreCannotWrite: nothing reaches Genesys, and the bot
// can retry.
func TestEscalationIsRefusedWhenTheStoreCannotWrite(t *testing.T) {
	p := newPair(t)
	p.store.Fail(errors.New("the API server is away"))
	_, _, err := p.a.Manager.Escalate(context.Background(), escalation("conv-nostore"))
	var stored *chat.StoreError
	p.Expect(errors.As(err, &stored)).To(BeTrue(), "%v", err)
	p.Expect(p.a.Sim.Chats()).To(BeEmpty(), "no Genesys chat without a record")
	p.Expect(p.store.Records(0)).To(BeEmpty())
	p.Expect(p.a.Manager.Status().ActiveChats).To(BeZero())
	p.store.Fail(nil)
	_, created, err := p.a.Manager.Escalate(context.Background(), escalation("conv-nostore"))
	p.Expect(err).NotTo(HaveOccurred())
	p.Expect(created).To(BeTrue())
}

// TestDuplicateEscalationWaitsForTheFirstOnesRecord: while a new chat's first record
// write is in flight, an escalation of the same conversation waits for it: it gets the
// chat once it is durable, and the same refusal when the store could not record it
// (before, it got 200 with a chat about to be forgotten).
func TestDuplicateEscalationWaitsForTheFirstOnesRecord(t *testing.T) {
	for _, fails := range []bool{false, true} {
		t.Run(map[bool]string{false: "recorded", true: "not recorded"}[fails], func(t *testing.T) {
			p := newPair(t)
			release := p.store.Hold()
			defer release()
			type outcome struct {
				v       chat.View
				created bool
				err     error
			}
			escalate := func() <-chan outcome {
				ch := make(chan outcome, 1)
				go func() {
					v, created, err := p.a.Manager.Escalate(context.Background(), escalation("conv-dup"))
					ch <- outcome{v, created, err}
				}()
				return ch
			}
			first := escalate()
			p.Eventually(p.store.Syncs).Should(BeNumerically(">=", 1), "the first escalation waits for its write")
			second := escalate()
			type found struct {
				v    chat.View
				live bool
				err  error
			}
			lookup := make(chan found, 1)
			go func() {
				v, live, err := p.a.Manager.LiveChatOf(context.Background(), "conv-dup")
				lookup <- found{v, live, err}
			}()
			p.Consistently(second, 200*time.Millisecond).ShouldNot(Receive(), "the duplicate waits too")
			p.Expect(lookup).NotTo(Receive(), "so does a lookup of the conversation's live chat")
			gaveUp, cancel := context.WithCancel(context.Background())
			cancel()
			_, _, err := p.a.Manager.LiveChatOf(gaveUp, "conv-dup")
			p.Expect(err).To(MatchError(context.Canceled), "a lookup waits only as long as its caller")
			if fails {
				p.store.Fail(errors.New("the API server is away"))
			}
			release()
			var a, b outcome
			var l found
			p.Eventually(first).Should(Receive(&a))
			p.Eventually(second).Should(Receive(&b))
			p.Eventually(lookup).Should(Receive(&l))
			p.Expect(l.err).NotTo(HaveOccurred())
			if fails {
				p.Expect(l.live).To(BeFalse(), "a chat its store could not record is no live chat")
				var stored *chat.StoreError
				p.Expect(errors.As(a.err, &stored)).To(BeTrue(), "%v", a.err)
				p.Expect(errors.As(b.err, &stored)).To(BeTrue(), "the duplicate is refused as the first was: %v", b.err)
				p.Expect(p.a.Sim.Chats()).To(BeEmpty())
				return
			}
			p.Expect(a.err).NotTo(HaveOccurred())
			p.Expect(b.err).NotTo(HaveOccurred())
			p.Expect(a.created).To(BeTrue())
			p.Expect(b.created).To(BeFalse())
			p.Expect(b.v.ID).To(Equal(a.v.ID))
			p.Expect(l.live).To(BeTrue())
			p.Expect(l.v.ID).To(Equal(a.v.ID))
			_, err = p.a.Manager.Get(b.v.ID)
			p.Expect(err).NotTo(HaveOccurred())
		})
	}
}

// TestDrainingRefusesEscalations keeps live chats going.
func TestDrainingRefusesEscalations(t *testing.T) {
	p := newPair(t)
	id, gid := p.connected("conv-drain", 0)
	p.a.Manager.Drain()
	_, _, err := p.a.Manager.Escalate(context.Background(), escalation("conv-new"))
	p.Expect(errors.Is(err, chat.ErrDraining)).To(BeTrue())
	p.Expect(p.a.Sim.AgentMessage(gid, "still here")).To(Succeed())
	p.Eventually(func() []string { return agentTexts(p.all(p.a.Manager, id)) }).Should(ContainElement("still here"))
}

func clientTexts(sim *gmssim.Simulator, gid string) []string {
	c, _ := sim.Chat(gid)
	var out []string
	for _, e := range c.Transcript {
		if e.From.Type == gms.ParticipantClient && e.Type == gms.EventMessage {
			out = append(out, e.Text)
		}
	}
	return out
}
