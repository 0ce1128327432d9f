package report

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// applies records the status applies a writer sends, failing the first failures of them.
type applies struct {
	mu       sync.Mutex
	calls    []map[string]any // the apply configurations' content
	opts     []client.SubResourceApplyOptions
	failures int
}

func (a *applies) client() client.Client {
	return interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		SubResourceApply: func(_ context.Context, _ client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil || sub != "status" {
				return errors.Join(err, errors.New("not a status apply"))
			}
			o := client.SubResourceApplyOptions{}
			o.ApplyOpts(opts)
			a.calls = append(a.calls, content)
			a.opts = append(a.opts, o)
			if a.failures > 0 {
				a.failures--
				return errors.New("apiserver unavailable")
			}
			return nil
		},
	})
}

func (a *applies) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// lastEntry is the runners entry of the last apply.
func (a *applies) lastEntry(g Gomega) map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	g.Expect(a.calls).NotTo(BeEmpty())
	runners := a.calls[len(a.calls)-1]["status"].(map[string]any)["runners"].([]any)
	g.Expect(runners).To(HaveLen(1))
	return runners[0].(map[string]any)
}

// state is a runner's entry that tests change, counting how often the writer reads it.
type state struct {
	mu    sync.Mutex
	entry chatv1alpha1.RunnerStatus
	reads int
}

func (s *state) source() chatv1alpha1.RunnerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.entry
}

func (s *state) set(active int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry.ActiveChats = active
}

func (s *state) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// notify signals a change without blocking, as the chat engine does.
func notify(changed chan struct{}) {
	select {
	case changed <- struct{}{}:
	default:
	}
}

type harness struct {
	g       *WithT
	clock   *testingclock.FakeClock
	applies *applies
	state   *state
	changed chan struct{}
	writer  *StatusWriter
	written atomic.Int32
}

// start runs a writer whose entry has active chats, its first failures writes failing.
func start(t *testing.T, active int32, failures int) *harness {
	h := &harness{
		g:       NewWithT(t),
		clock:   testingclock.NewFakeClock(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)),
		applies: &applies{failures: failures},
		state:   &state{entry: chatv1alpha1.RunnerStatus{ChatCounters: chatv1alpha1.ChatCounters{ActiveChats: active}}},
		changed: make(chan struct{}, 1),
	}
	h.writer = NewStatusWriter(StatusOptions{
		Client:  h.applies.client(),
		Gateway: types.NamespacedName{Namespace: "tenant", Name: "acme"},
		Pod:     "acme-runner-0",
		Clock:   h.clock,
		OnWrite: func() { h.written.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.writer.Run(ctx, h.state.source, h.changed)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func TestStatusWriterWritesItsEntryAtOnceUnderItsOwnFieldManager(t *testing.T) {
	h := start(t, 3, 0)
	h.g.Eventually(h.writer.Writes).Should(Equal(1))

	entry := h.applies.lastEntry(h.g)
	h.g.Expect(entry).To(HaveKeyWithValue("pod", "acme-runner-0"))
	h.g.Expect(entry).To(HaveKeyWithValue("updateTime", "2026-07-01T12:00:00Z"))
	h.g.Expect(entry).To(HaveKeyWithValue("activeChats", int64(3)))
	h.applies.mu.Lock()
	defer h.applies.mu.Unlock()
	o := h.applies.opts[0]
	h.g.Expect(o.FieldManager).To(Equal("chat-runner/acme-runner-0"))
	h.g.Expect(o.Force).To(HaveValue(BeTrue()))
	h.g.Expect(h.applies.calls[0]).To(HaveKeyWithValue("metadata", map[string]any{"name": "acme", "namespace": "tenant"}))
	h.g.Expect(h.applies.calls[0]).To(HaveKeyWithValue("kind", "GenesysGateway"))
	h.g.Expect(h.written.Load()).To(Equal(int32(1)), "OnWrite")
}

func TestStatusWriterCoalescesABurstIntoOneWriteOfItsLastState(t *testing.T) {
	h := start(t, 0, 0)
	h.g.Eventually(h.writer.Writes).Should(Equal(1))

	for active := range int32(5) {
		h.state.set(active + 1)
		notify(h.changed)
	}
	h.g.Eventually(h.clock.HasWaiters).Should(BeTrue(), "the writer waits for the interval's end")
	h.g.Expect(h.writer.Writes()).To(Equal(1))

	h.clock.Step(time.Second)
	h.g.Eventually(h.writer.Writes).Should(Equal(2))
	h.g.Expect(h.applies.lastEntry(h.g)).To(HaveKeyWithValue("activeChats", int64(5)))
	h.g.Expect(h.applies.count()).To(Equal(2))
}

func TestStatusWriterDoesNotWriteAnUnchangedEntry(t *testing.T) {
	h := start(t, 1, 0)
	h.g.Eventually(h.writer.Writes).Should(Equal(1))
	reads := h.state.readCount()

	h.clock.Step(time.Hour) // past any interval: only equality holds the write back
	notify(h.changed)
	h.g.Eventually(h.state.readCount).Should(Equal(reads + 1))
	h.state.set(2)
	notify(h.changed)
	h.g.Eventually(h.writer.Writes).Should(Equal(2))
	h.g.Expect(h.applies.count()).To(Equal(2), "no apply of the unchanged entry")
}

// longest is the longest wait of a back-off step of d, jitter included.
func longest(d time.Duration) time.Duration { return d + time.Duration(retryJitter*float64(d)) }

func TestStatusWriterRetriesAFailedWriteWithBackOff(t *testing.T) {
	h := start(t, 1, 2)
	h.g.Eventually(h.applies.count).Should(Equal(1))
	h.g.Eventually(h.clock.HasWaiters).Should(BeTrue())

	h.clock.Step(longest(time.Second)) // the first back-off: 1s and its jitter
	h.g.Eventually(h.applies.count).Should(Equal(2))
	h.g.Eventually(h.clock.HasWaiters).Should(BeTrue())
	h.state.set(7)
	notify(h.changed) // a change waits for the back-off too

	h.clock.Step(time.Second) // half the second back-off: 2s at least
	h.g.Consistently(h.applies.count).Should(Equal(2))
	h.clock.Step(longest(2*time.Second) - time.Second)
	h.g.Eventually(h.writer.Writes).Should(Equal(1))
	h.g.Expect(h.applies.count()).To(Equal(3))
	h.g.Expect(h.applies.lastEntry(h.g)).To(HaveKeyWithValue("activeChats", int64(7)))

	// A write restarts the back-off: the next failure waits 1s again, not 4s.
	h.applies.mu.Lock()
	h.applies.failures = 1
	h.applies.mu.Unlock()
	h.state.set(8)
	notify(h.changed)
	h.g.Eventually(h.clock.HasWaiters).Should(BeTrue())
	h.clock.Step(time.Second) // the interval after the write
	h.g.Eventually(h.applies.count).Should(Equal(4))
	h.g.Eventually(h.clock.HasWaiters).Should(BeTrue())
	h.clock.Step(longest(time.Second))
	h.g.Eventually(h.writer.Writes).Should(Equal(2))
	h.g.Expect(h.applies.count()).To(Equal(5))
}

func TestStatusBackOffDoublesWithJitterUpToItsLimit(t *testing.T) {
	g := NewWithT(t)
	w := NewStatusWriter(StatusOptions{}) // MinInterval 1s
	b := w.backoff()
	for i, base := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		base *= time.Second
		d := nextWait(&b)
		g.Expect(d).To(BeNumerically(">=", base), "wait %d", i+1)
		g.Expect(d).To(BeNumerically("<=", min(longest(base), maxBackOff)), "wait %d: jitter, never above the limit", i+1)
	}

	slow := NewStatusWriter(StatusOptions{MinInterval: time.Minute}).backoff()
	for range 3 {
		g.Expect(nextWait(&slow)).To(Equal(time.Minute), "never shorter than the interval, nor longer")
	}

	firsts := map[time.Duration]bool{}
	for range 20 {
		b := w.backoff()
		firsts[nextWait(&b)] = true
	}
	g.Expect(len(firsts)).To(BeNumerically(">", 1), "runners failing together do not retry in lock-step")
}

func TestClampFitsTheSchemaWithoutChangingTheSource(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("é", 600) // 1200 bytes
	chats := make([]chatv1alpha1.ChatStatus, 25)
	for i := range chats {
		chats[i] = chatv1alpha1.ChatStatus{ID: "c", State: chatv1alpha1.ChatFailed, LastError: long}
	}
	entry := clamp(chatv1alpha1.RunnerStatus{LastError: long, Chats: chats, LastPollTime: &metav1.Time{}})
	g.Expect(entry.Chats).To(HaveLen(maxChats))
	g.Expect(len(entry.LastError)).To(BeNumerically("<=", maxErrorLength))
	g.Expect(entry.LastError).To(HaveSuffix("é…"))
	g.Expect(len(entry.Chats[0].LastError)).To(BeNumerically("<=", maxErrorLength))
	g.Expect(chats[0].LastError).To(Equal(long), "the source's chats are untouched")

	g.Expect(clamp(chatv1alpha1.RunnerStatus{LastError: "short"}).LastError).To(Equal("short"))
}
