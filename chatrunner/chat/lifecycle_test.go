package chat_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

func TestChatFromEscalationToAgentAndBack(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	ctx := context.Background()
	id, gid := h.escalate("conv-1")

	// Request Chat carried the user, the subject and the attributes as userData.
	sc, _ := h.sim.Chat(gid)
	h.Expect(sc.Nickname).To(Equal("Jane Doe"))
	h.Expect(sc.FirstName).To(Equal("Jane"))
	h.Expect(sc.LastName).To(Equal("Doe"))
	h.Expect(sc.EmailAddress).To(Equal("jane@example.com"))
	h.Expect(sc.Subject).To(Equal("Billing question"))
	h.Expect(sc.UserData).To(Equal(map[string]string{"Plan": "Gold & Co", "Order": "12+3%", "TimeZone": "-300"}))
	h.Expect(h.waitEvent(id, chat.KindNotice).Canned).To(Equal(chat.CannedWaitingForAgent))

	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	v := h.waitState(id, chatv1alpha1.ChatConnected)
	h.Expect(v.Agent.Name).To(Equal("Alice"))
	h.Expect(v.ConnectTime).NotTo(BeZero())
	h.Expect(h.waitEvent(id, chat.KindAgentJoined).Agent).To(Equal("Alice"))
	h.Expect(h.waitEvent(id, chat.KindNotice).Text).To(Equal("You are now chatting with Alice."))

	// Agent side to the bot, special characters intact.
	h.Expect(h.sim.AgentTyping(gid, true)).To(Succeed())
	h.waitEvent(id, chat.KindTypingStarted)
	h.Expect(h.sim.AgentMessage(gid, "Hi & welcome: 100% + ünïcode 👋\nline 2")).To(Succeed())
	msg := h.waitEvent(id, chat.KindMessage)
	h.Expect(msg.Text).To(Equal("Hi & welcome: 100% + ünïcode 👋\nline 2"))
	h.Expect(msg.Agent).To(Equal("Alice"))
	h.Expect(h.sim.AgentPushURL(gid, "https://example.com/help?a=1&b=2")).To(Succeed())
	h.Expect(h.waitEvent(id, chat.KindPushURL).URL).To(Equal("https://example.com/help?a=1&b=2"))

	// User side to the agent.
	h.Expect(h.m.Typing(ctx, id, true)).To(Succeed())
	h.Expect(h.m.SendMessage(ctx, id, "My bill: 5 & 6 + 7%", "text", "")).To(Succeed())
	h.Expect(h.m.Typing(ctx, id, false)).To(Succeed())
	h.Expect(h.m.Present(ctx, id, "https://example.com/card")).To(Succeed())
	var types, texts []string
	for _, e := range h.clientEvents(gid) {
		types, texts = append(types, e.Type), append(texts, e.Text)
	}
	h.Expect(types).To(Equal([]string{gms.EventParticipantJoined, gms.EventTypingStarted, gms.EventMessage, gms.EventTypingStopped, gms.EventPushURL}))
	h.Expect(texts).To(ContainElements("My bill: 5 & 6 + 7%", "https://example.com/card"))

	// Transfer to a second agent: not the end.
	h.Expect(h.sim.Transfer(gid, gmssim.Agent{Nickname: "Bob"})).To(Succeed())
	h.Eventually(func() string { v, _ := h.m.Get(id); return v.Agent.Name }).Should(Equal("Bob"))
	h.Expect(h.waitEvent(id, chat.KindAgentLeft).Agent).To(Equal("Alice"))
	h.Expect(h.sim.AgentMessage(gid, "Bob here")).To(Succeed())
	h.Eventually(func() string { return h.waitEvent(id, chat.KindMessage).Agent }).Should(Equal("Bob"))
	h.Expect(h.m.Get(id)).To(HaveField("State", chatv1alpha1.ChatConnected))

	// The agent closes.
	h.Expect(h.sim.Close(gid)).To(Succeed())
	v = h.waitState(id, chatv1alpha1.ChatEnded)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndAgentClosed))
	evs := h.events(id)
	h.Expect(evs[len(evs)-1].Kind).To(Equal(chat.KindEnded))
	h.Expect(evs[len(evs)-2].Canned).To(Equal(chat.CannedConversationClosed))
	for i, e := range evs {
		h.Expect(e.Seq).To(Equal(int64(i+1)), "seq is gap-free")
	}
	h.Expect(h.seen.of(id)).To(Equal([]chatv1alpha1.ChatState{
		chatv1alpha1.ChatRequesting, chatv1alpha1.ChatWaitingForAgent, chatv1alpha1.ChatConnected, chatv1alpha1.ChatEnded,
	}))
	// No message of the agent was delivered twice or lost.
	msgs := 0
	for _, e := range evs {
		if e.Kind == chat.KindMessage {
			msgs++
		}
	}
	h.Expect(msgs).To(Equal(2))
}

func TestUserCloseDisconnectsOnGenesys(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-close")
	v, err := h.m.Close(context.Background(), id)
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatEnded))
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndUserClosed))
	h.Eventually(func() bool { c, _ := h.sim.Chat(gid); return c.Ended }).Should(BeTrue())
	// Idempotent, and the conversation may escalate again.
	again, err := h.m.Close(context.Background(), id)
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(again.EndTime).To(Equal(v.EndTime))
	h.Expect(h.m.SendMessage(context.Background(), id, "late", "", "")).To(MatchError(ContainSubstring("over")))
	next, created, err := h.m.Escalate(context.Background(), escalation("conv-close"))
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(created).To(BeTrue())
	h.Expect(next.ID).NotTo(Equal(id))
}

func TestEscalationIsIdempotentByConversation(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, _ := h.escalate("conv-same")
	v, created, err := h.m.Escalate(context.Background(), escalation("conv-same"))
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(created).To(BeFalse())
	h.Expect(v.ID).To(Equal(id))
	h.Expect(h.sim.Chats()).To(HaveLen(1))
}

func TestAgentCloseTransfersBackWhenConfigured(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.TransferBackOnAgentClose = true }, gmssim.Options{})
	id, gid := h.escalate("conv-transfer")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.waitState(id, chatv1alpha1.ChatConnected)
	h.Expect(h.sim.Close(gid)).To(Succeed())
	v := h.waitState(id, chatv1alpha1.ChatTransferred)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndAgentClosed))
	h.Expect(h.waitEvent(id, chat.KindTransferred).Reason).To(Equal(chatv1alpha1.EndAgentClosed))
	h.Expect(h.waitEvent(id, chat.KindNotice).Canned).To(Equal(chat.CannedConversationTransferred))

	// A user close is never a transfer.
	id2, _ := h.escalate("conv-transfer-2")
	v, _ = h.m.Close(context.Background(), id2)
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatEnded))
}

func TestEscalationTimeoutDisconnects(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.EscalationTimeout = 150 * time.Millisecond }, gmssim.Options{})
	id, gid := h.escalate("conv-timeout")
	v := h.waitState(id, chatv1alpha1.ChatEnded)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndEscalationTimeout))
	h.Expect(h.waitEvent(id, chat.KindNotice).Canned).To(Equal(chat.CannedNoAgentAvailable))
	h.Eventually(func() bool { c, _ := h.sim.Chat(gid); return c.Ended }).Should(BeTrue(), "disconnected on Genesys")
	var ops []gms.Operation
	for _, r := range h.sim.Requests() {
		ops = append(ops, r.Op)
	}
	h.Expect(ops).To(ContainElement(gms.OpDisconnect))
}

func TestPollingKeepsTheChatAliveAgainstIdleTimeout(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{IdleTimeout: 200 * time.Millisecond})
	id, _ := h.escalate("conv-alive")
	h.Consistently(func() chatv1alpha1.ChatState { v, _ := h.m.Get(id); return v.State }, time.Second, 20*time.Millisecond).
		Should(Equal(chatv1alpha1.ChatWaitingForAgent))
}

func TestIdleTimeoutOnGenesysEndsTheChat(t *testing.T) {
	// Polling slower than the server's idle timeout loses the chat.
	h := newHarness(t, func(s *chat.Settings) { s.PollInterval = 400 * time.Millisecond }, gmssim.Options{IdleTimeout: 100 * time.Millisecond})
	id, _ := h.escalate("conv-idle")
	v := h.waitState(id, chatv1alpha1.ChatEnded)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndIdleTimeout))
}

func TestRetriesExhaustedFailTheChat(t *testing.T) {
	for _, transfer := range []bool{false, true} {
		h := newHarness(t, func(s *chat.Settings) { s.TransferBackOnAgentClose = transfer }, gmssim.Options{})
		id, gid := h.escalate("conv-fail")
		h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultHTTPStatus, Op: gms.OpRefresh, ChatID: gid, HTTPStatus: 503})
		want := chatv1alpha1.ChatFailed
		if transfer {
			want = chatv1alpha1.ChatTransferred
		}
		v := h.waitState(id, want)
		h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndGenesysError))
		h.Expect(v.LastError).To(ContainSubstring("503"))
		h.Expect(v.LastError).To(ContainSubstring("3 attempts"))
		// The chat's entry keeps its error; the runner's lastError follows the calls after
		// it (the Disconnect that follows reaches Genesys and clears it).
		h.Expect(h.m.Status().Chats).To(ContainElement(And(HaveField("ID", id), HaveField("LastError", ContainSubstring("503")))))
		if !transfer {
			h.Expect(h.waitEvent(id, chat.KindFailed).Error).To(ContainSubstring("503"))
			h.Expect(h.waitEvent(id, chat.KindNotice).Canned).To(Equal(chat.CannedTechnicalError))
		}
	}
}

func TestUnrecoverableStatusEndsTheChat(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-249")
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpRefresh, ChatID: gid, ChatEnded: true, Times: 1})
	v := h.waitState(id, chatv1alpha1.ChatFailed)
	h.Expect(v.EndReason).To(Equal(chatv1alpha1.EndGenesysError))
	h.Expect(v.LastError).To(ContainSubstring("249"))
	refreshes := 0
	for _, r := range h.sim.Requests() {
		if r.Op == gms.OpRefresh && r.Fault != "" {
			refreshes++
		}
	}
	h.Expect(refreshes).To(Equal(1), "statusCode 2 is not retried")
}

func TestTransientFaultsDoNotLoseAgentMessages(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-faults")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	h.waitState(id, chatv1alpha1.ChatConnected)
	for _, f := range []gmssim.Fault{
		{Kind: gmssim.FaultStatus1, Op: gms.OpRefresh, Times: 1},
		{Kind: gmssim.FaultMalformedJSON, Op: gms.OpRefresh, Times: 1},
		{Kind: gmssim.FaultDuplicateLast, Op: gms.OpRefresh, Times: 3},
		{Kind: gmssim.FaultOmitNextPosition, Op: gms.OpRefresh, Times: 3},
		{Kind: gmssim.FaultAliasChange, Op: gms.OpRefresh, Times: 1},
	} {
		f.ChatID = gid
		h.sim.Inject(f)
	}
	for i := range 5 {
		h.Expect(h.sim.AgentMessage(gid, "message "+string(rune('A'+i)))).To(Succeed())
	}
	h.Eventually(func() []string {
		var texts []string
		for _, e := range h.events(id) {
			if e.Kind == chat.KindMessage {
				texts = append(texts, e.Text)
			}
		}
		return texts
	}).Should(Equal([]string{"message A", "message B", "message C", "message D", "message E"}))
	h.Expect(h.m.Get(id)).To(HaveField("State", chatv1alpha1.ChatConnected))
}

func TestCapacityRefusesBeyondAgentsTimesChats(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.Agents, s.MaxChatsPerAgent = 1, 2 }, gmssim.Options{})
	first, _ := h.escalate("conv-a")
	h.escalate("conv-b")
	_, _, err := h.m.Escalate(context.Background(), escalation("conv-c"))
	var full *chat.CapacityError
	h.Expect(errors.As(err, &full)).To(BeTrue())
	h.Expect(full.Capacity).To(Equal(2))
	h.Expect(full.RetryAfter).To(BeNumerically(">", 0))
	h.Expect(h.m.Status().Capacity).To(Equal(int32(2)))

	_, err = h.m.Close(context.Background(), first)
	h.Expect(err).NotTo(HaveOccurred())
	h.escalate("conv-c")
}

func TestAgentsRecoverOnceGenesysAnswers(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.Agents, s.AvailabilityRefresh = 3, time.Hour }, gmssim.Options{})
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultHTTPStatus, Op: gms.OpRequestChat, HTTPStatus: 503})
	for _, conv := range []string{"x1", "x2", "x3"} {
		v, _, err := h.m.Escalate(context.Background(), escalation(conv))
		h.Expect(err).NotTo(HaveOccurred())
		h.waitState(v.ID, chatv1alpha1.ChatFailed)
	}
	h.Expect(h.m.Status().Agents).To(BeZero(), "refused requests take agents out of service")

	// Genesys is healthy again: the next escalation is accepted at once, not an hour later
	// at the availability refresh, and its success brings every agent back.
	h.sim.ClearFaults()
	v, _, err := h.m.Escalate(context.Background(), escalation("x4"))
	h.Expect(err).NotTo(HaveOccurred())
	h.waitState(v.ID, chatv1alpha1.ChatWaitingForAgent)
	h.Expect(h.m.Status().Agents).To(Equal(int32(3)))
	h.escalate("x5")
}

func TestAgentsOutOfServiceShedAllButOneProbe(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.Agents, s.AvailabilityRefresh = 2, time.Hour }, gmssim.Options{})
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultHTTPStatus, Op: gms.OpRequestChat, HTTPStatus: 503})
	for _, conv := range []string{"x1", "x2"} {
		v, _, err := h.m.Escalate(context.Background(), escalation(conv))
		h.Expect(err).NotTo(HaveOccurred())
		h.waitState(v.ID, chatv1alpha1.ChatFailed)
	}
	h.Expect(h.m.Status().Agents).To(BeZero())

	// One escalation probes Genesys; while its request is in flight the others are shed.
	h.sim.ClearFaults()
	h.sim.Inject(gmssim.Fault{Kind: gmssim.FaultDelay, Op: gms.OpRequestChat, Delay: 300 * time.Millisecond, Times: 1})
	probe, _, err := h.m.Escalate(context.Background(), escalation("probe"))
	h.Expect(err).NotTo(HaveOccurred())
	_, _, err = h.m.Escalate(context.Background(), escalation("shed"))
	var full *chat.CapacityError
	h.Expect(errors.As(err, &full)).To(BeTrue(), "err = %v", err)
	h.Expect(full.Capacity).To(BeZero())
	h.Expect(full.RetryAfter).To(Equal(10*time.Second), "retry soon: the probe may bring the agents back")

	// The probe's success brings the agents back.
	h.waitState(probe.ID, chatv1alpha1.ChatWaitingForAgent)
	h.Expect(h.m.Status().Agents).To(Equal(int32(2)))
	h.escalate("shed")
}

func TestEscalationValidation(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.Queue = "billing" }, gmssim.Options{})
	for field, mutate := range map[string]func(*chat.Escalation){
		"conversationId": func(e *chat.Escalation) { e.ConversationID = "" },
		"domain":         func(e *chat.Escalation) { e.Domain = "globex" },
		"queue":          func(e *chat.Escalation) { e.Queue = "sales" },
		"user":           func(e *chat.Escalation) { e.User = chat.User{} },
	} {
		e := escalation("conv-v")
		e.Queue = "billing"
		mutate(&e)
		_, _, err := h.m.Escalate(context.Background(), e)
		var invalid *chat.InvalidError
		h.Expect(errors.As(err, &invalid)).To(BeTrue(), field)
		h.Expect(invalid.Field).To(Equal(field))
	}
	h.Expect(h.sim.Chats()).To(BeEmpty())
}

func TestPresentContentDisabled(t *testing.T) {
	h := newHarness(t, func(s *chat.Settings) { s.SupportPresentContent = false }, gmssim.Options{})
	id, _ := h.escalate("conv-present")
	h.Expect(h.m.Present(context.Background(), id, "https://example.com")).To(MatchError(chat.ErrPresentDisabled))
}

func TestEventsLongPollWakesOnNewEvent(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	id, gid := h.escalate("conv-poll")
	last := int64(len(h.events(id)))
	got := make(chan []chat.Event, 1)
	go func() {
		evs, _ := h.m.Events(context.Background(), id, last, 10*time.Second)
		got <- evs
	}()
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	var evs []chat.Event
	h.Eventually(got).Should(Receive(&evs))
	h.Expect(evs).NotTo(BeEmpty())
	h.Expect(evs[0].Seq).To(Equal(last + 1))
	h.Expect(evs[0].Kind).To(Equal(chat.KindAgentJoined))
}

func TestStatusCountsAndBoundsChats(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{})
	var ids []string
	for i := range 22 {
		id, _ := h.escalate("conv-s" + string(rune('a'+i)))
		ids = append(ids, id)
	}
	_, gid := h.escalate("conv-connected")
	h.Expect(h.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	_, err := h.m.Close(context.Background(), ids[0])
	h.Expect(err).NotTo(HaveOccurred())
	h.Eventually(func() chatv1alpha1.ChatCounters { return h.m.Status().ChatCounters }).Should(Equal(chatv1alpha1.ChatCounters{
		Agents: 3, Capacity: 30, ActiveChats: 22, WaitingChats: 21, ConnectedChats: 1, EndedChatsTotal: 1,
	}))
	st := h.m.Status()
	h.Expect(st.Chats).To(HaveLen(20))
	h.Expect(st.Chats[0].ConversationID).To(Equal("conv-connected"), "newest first")
	h.Expect(st.LastPollTime).NotTo(BeNil())
	for _, c := range st.Chats {
		h.Expect(c.GenesysChatID).NotTo(BeEmpty())
	}
}

func TestRefusedCredentialsAreReportedNotRetried(t *testing.T) {
	h := newHarness(t, nil, gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "gms", Password: "not-what-the-runner-has"}})
	v, _, err := h.m.Escalate(context.Background(), escalation("conv-401"))
	h.Expect(err).NotTo(HaveOccurred())
	v = h.waitState(v.ID, chatv1alpha1.ChatFailed)
	h.Expect(v.LastError).To(ContainSubstring("401"))
	st := h.m.Status()
	h.Expect(st.AuthError).To(ContainSubstring("401"))
	h.Expect(st.LastError).To(Equal(st.AuthError))
	chatRequests := slices.DeleteFunc(h.sim.Requests(), func(r gmssim.Request) bool { return r.ChatID == gms.ProbeChatID })
	h.Expect(chatRequests).To(HaveLen(1), "a refused credential is not retried")
	h.Eventually(func() int32 { return h.m.Status().GenesysFailures }).Should(BeNumerically(">=", 2),
		"the refused Request Chat and the start-up probe, both unanswered")
	h.Expect(h.m.Status().LastGenesysAnswerTime).To(BeNil())
}
