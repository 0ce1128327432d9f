package report

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// sink captures the events a fake clientset is asked to create, failing the first ones
// with err (503 Service Unavailable when nil).
type sink struct {
	mu       sync.Mutex
	created  []*eventsv1.Event
	attempts int
	failures int
	err      error
}

func (s *sink) clientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.attempts++
		if s.failures > 0 {
			s.failures--
			if s.err != nil {
				return true, nil, s.err
			}
			return true, nil, apierrors.NewServiceUnavailable("try later")
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*eventsv1.Event)
		s.created = append(s.created, ev)
		return true, ev, nil
	})
	return cs
}

func (s *sink) events() []*eventsv1.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*eventsv1.Event(nil), s.created...)
}

func testRecorder(t *testing.T, s *sink) *recorder {
	r := newRecorder(s.clientset().EventsV1(), scheme.New(), "acme-runner-1", logr.Discard(), time.Millisecond)
	t.Cleanup(r.stop)
	return r
}

var gateway = &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "acme", UID: "u-1"}}

func TestRecorderKeepsAnEventPerChat(t *testing.T) {
	g := NewWithT(t)
	s := &sink{}
	r := testRecorder(t, s)
	e := NewEvents(r, gateway)
	e.Transitioned(chat.Transition{ChatID: "c-1", To: chatv1alpha1.ChatConnected, Agent: "Alice"})
	e.Transitioned(chat.Transition{ChatID: "c-2", To: chatv1alpha1.ChatConnected, Agent: "Bob"})
	r.stop()

	evs := s.events()
	g.Expect(evs).To(HaveLen(2))
	g.Expect(evs).To(HaveEach(SatisfyAll(
		HaveField("Namespace", "tenant"),
		HaveField("Name", MatchRegexp(`^acme\.[0-9a-f]+[a-z2-7]{4}$`)),
		HaveField("ReportingController", "chat-runner"),
		HaveField("ReportingInstance", "acme-runner-1"),
		HaveField("Type", "Normal"),
		HaveField("Reason", ReasonAgentJoined),
		HaveField("Action", "ConnectAgent"),
		HaveField("Regarding.Kind", "GenesysGateway"),
		HaveField("Regarding.APIVersion", chatv1alpha1.GroupVersion.String()),
		HaveField("Regarding.Name", "acme"),
		HaveField("Regarding.UID", gateway.UID),
		HaveField("EventTime.Time", Not(BeZero())),
	)))
	g.Expect(evs).To(ConsistOf(HaveField("Note", "Chat c-1: agent Alice joined"), HaveField("Note", "Chat c-2: agent Bob joined")))
}

func TestRecorderRetriesWhileTheAPIServerIsUnavailable(t *testing.T) {
	g := NewWithT(t)
	s := &sink{failures: 2}
	r := testRecorder(t, s)
	r.Eventf(gateway, nil, "Normal", ReasonChatEnded, "EndChat", "Chat %s: ended", "c-1")
	r.stop()
	g.Expect(s.events()).To(HaveLen(1))
	g.Expect(s.attempts).To(Equal(3))
}

func TestRecorderGivesUpAfterThreeAttempts(t *testing.T) {
	g := NewWithT(t)
	s := &sink{failures: 5}
	r := testRecorder(t, s)
	r.Eventf(gateway, nil, "Normal", ReasonChatEnded, "EndChat", "Chat %s: ended", "c-1")
	r.stop()
	g.Expect(s.events()).To(BeEmpty())
	g.Expect(s.attempts).To(Equal(sendAttempts))
}

func TestRecorderDoesNotRetryARefusal(t *testing.T) {
	g := NewWithT(t)
	s := &sink{failures: 1, err: apierrors.NewForbidden(eventsv1.Resource("events"), "", errors.New("no RBAC"))}
	r := testRecorder(t, s)
	r.Eventf(gateway, nil, "Normal", ReasonChatEnded, "EndChat", "Chat %s: ended", "c-1")
	r.Eventf(gateway, nil, "Normal", ReasonChatEnded, "EndChat", "Chat %s: ended", "c-2")
	r.stop()
	g.Expect(s.attempts).To(Equal(2), "one attempt of each event")
	g.Expect(s.events()).To(ConsistOf(HaveField("Note", "Chat c-2: ended")))
}

func TestSendBackOffDoublesWithJitter(t *testing.T) {
	g := NewWithT(t)
	b := sendBackoff(time.Second)
	g.Expect(b.Steps).To(Equal(sendAttempts), "the attempts in all")
	first, second := b.Step(), b.Step()
	g.Expect(first).To(BeNumerically(">=", time.Second))
	g.Expect(first).To(BeNumerically("<=", longest(time.Second)))
	g.Expect(second).To(BeNumerically(">=", 2*time.Second))
	g.Expect(second).To(BeNumerically("<=", longest(2*time.Second)))
}

func TestRecorderDropsEventsAfterStopping(t *testing.T) {
	g := NewWithT(t)
	s := &sink{}
	r := testRecorder(t, s)
	r.stop()
	r.Eventf(gateway, nil, "Normal", ReasonChatEnded, "EndChat", "late")
	r.stop()
	g.Expect(s.events()).To(BeEmpty())
}

func TestRecorderDropsEventsOfObjectsWithoutKind(t *testing.T) {
	g := NewWithT(t)
	s := &sink{}
	r := testRecorder(t, s)
	r.Eventf(&metav1.PartialObjectMetadata{}, nil, "Normal", "Unknown", "None", "note")
	r.stop()
	g.Expect(s.events()).To(BeEmpty())
}
