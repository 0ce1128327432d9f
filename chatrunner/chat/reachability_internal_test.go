package chat

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// scriptedGMS answers each chat's Refresh as the test says; Request Chat succeeds, and
// Disconnect never answers (until the engine stops), so that the polls a test makes are
// the only calls whose outcome the runner records.
type scriptedGMS struct {
	mu      sync.Mutex
	n       int
	refresh map[string]error // by Genesys chat id; nil answers statusCode 0
}

func (f *scriptedGMS) answer(chatID string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh[chatID] = err
}

func (f *scriptedGMS) RequestChat(context.Context, gms.ChatRequest) (*gms.Session, *gms.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return gms.NewSession("g"+strconv.Itoa(f.n), "u", "k", "1"), &gms.Response{}, nil
}

func (f *scriptedGMS) Refresh(_ context.Context, s *gms.Session, _ int) (*gms.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh[s.ChatID]; err != nil {
		return nil, err
	}
	return &gms.Response{}, nil
}

func (f *scriptedGMS) Disconnect(ctx context.Context, _ *gms.Session) (*gms.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *scriptedGMS) Send(context.Context, *gms.Session, string, string, int) (*gms.Response, error) {
	return &gms.Response{}, nil
}

func (f *scriptedGMS) StartTyping(context.Context, *gms.Session, string) (*gms.Response, error) {
	return &gms.Response{}, nil
}

func (f *scriptedGMS) StopTyping(context.Context, *gms.Session, string) (*gms.Response, error) {
	return &gms.Response{}, nil
}

func (f *scriptedGMS) PushURL(context.Context, *gms.Session, string) (*gms.Response, error) {
	return &gms.Response{}, nil
}

// The runner's lastError follows the last Chat API call: one chat Genesys refuses keeps
// its error to itself, an outage sets it and keeps it while calls fail, and the next
// successful poll of another chat clears it.
func TestRunnerErrorFollowsTheLastCall(t *testing.T) {
	g := NewWithT(t)
	f := &scriptedGMS{refresh: map[string]error{}}
	m, ctx := runManager(t, Options{GMS: f, Settings: Settings{
		Domain: "acme", PollInterval: time.Hour, EscalationTimeout: time.Hour, AvailabilityRefresh: time.Hour,
		Agents: 1, MaxChatsPerAgent: 10, Locale: "en-US",
	}})

	chats := map[string]*chat{}
	for _, conv := range []string{"refused", "lost-1", "lost-2", "healthy"} {
		v, _, err := m.Escalate(ctx, Escalation{ConversationID: conv, Domain: "acme", User: User{Name: "Jane"}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() chatv1alpha1.ChatState { v, _ = m.Get(v.ID); return v.State }).Should(Equal(chatv1alpha1.ChatWaitingForAgent))
		chats[conv], _ = m.get(v.ID)
	}
	// poll polls an established chat once, now, and returns its view.
	poll := func(conv string) View {
		c := chats[conv]
		m.poll(c, m.clock.Now())
		v, _ := m.Get(c.id)
		return v
	}
	entry := func(conv string) chatv1alpha1.ChatStatus {
		for _, c := range m.Status().Chats {
			if c.ID == chats[conv].id {
				return c
			}
		}
		t.Fatalf("no status entry of %s", conv)
		return chatv1alpha1.ChatStatus{}
	}
	g.Expect(poll("healthy").State).To(Equal(chatv1alpha1.ChatWaitingForAgent))
	polled := m.Status().LastPollTime
	g.Expect(polled).NotTo(BeNil())

	// Genesys ends one chat with statusCode 2 (249): that chat fails with the error on its
	// entry, and Genesys, which answered, stays reachable.
	f.answer(chats["refused"].session.ChatID, &gms.Error{Op: gms.OpRefresh, HTTPStatus: 200, StatusCode: gms.StatusUnrecoverable,
		ChatEnded: true, Errors: []gms.APIError{{Code: 249, Advice: "Media server was not able to execute request"}}, Attempts: 1})
	g.Expect(poll("refused").State).To(Equal(chatv1alpha1.ChatFailed))
	g.Expect(entry("refused").LastError).To(ContainSubstring("249"))
	st := m.Status()
	g.Expect(st.LastError).To(BeEmpty(), "one chat's refusal is not Genesys being unreachable")
	g.Expect(st.AuthError).To(BeEmpty())

	// A network outage: every poll fails, and lastError stays set while they do.
	outage := &gms.Error{Op: gms.OpRefresh, StatusCode: -1, Attempts: 3, Err: errors.New("connection reset by peer")}
	for _, conv := range []string{"lost-1", "lost-2", "healthy"} {
		f.answer(chats[conv].session.ChatID, outage)
	}
	g.Expect(poll("lost-1").State).To(Equal(chatv1alpha1.ChatFailed))
	g.Expect(m.Status().LastError).To(ContainSubstring("connection reset by peer"))
	g.Expect(poll("lost-2").State).To(Equal(chatv1alpha1.ChatFailed))
	g.Expect(m.Status().LastError).To(ContainSubstring("connection reset by peer"), "kept while calls keep failing")
	g.Expect(m.Status().LastPollTime).To(Equal(polled), "no poll succeeded")

	// Genesys answers again: the next successful poll, of another chat, clears it; the
	// failed chats keep their own errors.
	f.answer(chats["healthy"].session.ChatID, nil)
	g.Expect(poll("healthy").State).To(Equal(chatv1alpha1.ChatWaitingForAgent))
	st = m.Status()
	g.Expect(st.LastError).To(BeEmpty())
	g.Expect(st.LastPollTime.Time).To(BeTemporally(">=", polled.Time))
	g.Expect(entry("lost-1").LastError).To(ContainSubstring("connection reset by peer"))
	g.Expect(entry("refused").LastError).To(ContainSubstring("249"))
}
