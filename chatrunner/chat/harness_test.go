package chat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// harness runs a chat engine against the GMS simulator on loopback, in real time with
// short intervals.
type harness struct {
	*WithT
	t    *testing.T
	sim  *gmssim.Simulator
	m    *chat.Manager
	seen *transitions
}

// transitions records the engine's transitions.
type transitions struct {
	mu  sync.Mutex
	all []chat.Transition
}

func (r *transitions) Transitioned(t chat.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, t)
}

// of returns the states a chat went through.
func (r *transitions) of(id string) []chatv1alpha1.ChatState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var states []chatv1alpha1.ChatState
	for _, t := range r.all {
		if t.ChatID == id {
			states = append(states, t.To)
		}
	}
	return states
}

func newHarness(t *testing.T, settings func(*chat.Settings), simOpts gmssim.Options) *harness {
	t.Helper()
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	g.SetDefaultEventuallyPollingInterval(5 * time.Millisecond)
	s := chattest.Settings()
	if settings != nil {
		settings(&s)
	}
	seen := &transitions{}
	env := chattest.Start(t, s, simOpts, chat.Options{Observers: []chat.Observer{seen}, IDPrefix: "r0"})
	return &harness{WithT: g, t: t, sim: env.Sim, m: env.Manager, seen: seen}
}

// escalation is a valid escalation for a conversation.
func escalation(conversation string) chat.Escalation {
	tz := -300
	return chat.Escalation{
		ConversationID: conversation,
		Domain:         "acme",
		User:           chat.User{FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", TimeZoneOffsetMinutes: &tz},
		Subject:        "Billing question",
		Attributes:     map[string]string{"Plan": "Gold & Co", "Order": "12+3%"},
	}
}

// escalate starts a chat and waits until Genesys has it; it returns the chat's id and
// its Genesys chat id.
func (h *harness) escalate(conversation string) (string, string) {
	h.t.Helper()
	v, created, err := h.m.Escalate(context.Background(), escalation(conversation))
	h.Expect(err).NotTo(HaveOccurred())
	h.Expect(created).To(BeTrue())
	h.Expect(v.State).To(Equal(chatv1alpha1.ChatRequesting))
	h.waitState(v.ID, chatv1alpha1.ChatWaitingForAgent)
	got, _ := h.m.Get(v.ID)
	h.Expect(got.GenesysChatID).NotTo(BeEmpty())
	return v.ID, got.GenesysChatID
}

func (h *harness) waitState(id string, state chatv1alpha1.ChatState) chat.View {
	h.t.Helper()
	var v chat.View
	h.Eventually(func() chatv1alpha1.ChatState {
		v, _ = h.m.Get(id)
		return v.State
	}).Should(Equal(state))
	return v
}

// events returns every event of a chat so far.
func (h *harness) events(id string) []chat.Event {
	var all []chat.Event
	for {
		evs, err := h.m.Events(context.Background(), id, int64(len(all)), 0)
		h.Expect(err).NotTo(HaveOccurred())
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

// waitEvent waits for an event of a kind and returns the last one.
func (h *harness) waitEvent(id, kind string) chat.Event {
	h.t.Helper()
	var found chat.Event
	h.Eventually(func() bool {
		evs := h.events(id)
		for j := len(evs) - 1; j >= 0; j-- {
			if evs[j].Kind == kind {
				found = evs[j]
				return true
			}
		}
		return false
	}).Should(BeTrue(), "event %s of chat %s", kind, id)
	return found
}

// clientEvents returns the types of the client's events in the simulator's transcript.
func (h *harness) clientEvents(gid string) []gms.Event {
	c, ok := h.sim.Chat(gid)
	h.Expect(ok).To(BeTrue())
	var out []gms.Event
	for _, e := range c.Transcript {
		if e.From.Type == gms.ParticipantClient {
			out = append(out, e)
		}
	}
	return out
}
