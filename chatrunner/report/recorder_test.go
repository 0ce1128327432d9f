package report

import (
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
)

// sink captures the events a fake clientset is asked to create, failing the first ones.
type sink struct {
	mu       sync.Mutex
	created  []*eventsv1.Event
	attempts int
	failures int
}

func (s *sink) clientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.attempts++
		if s.failures > 0 {
			s.failures--
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
	scheme := runtime.NewScheme()
	if err := chatv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(s.clientset().EventsV1(), scheme, "acme-runner-1", logr.Discard(), time.Millisecond)
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
