package report

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	typedeventsv1 "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// ReportingController is the reporting controller of the runners' events.
const ReportingController = "chat-runner"

const (
	// queueLength bounds the events waiting to be sent; beyond it they are dropped.
	queueLength = 256
	// sendAttempts bounds the attempts to send one event when the API server is unavailable.
	sendAttempts = 3
	// sendTimeout bounds one attempt.
	sendTimeout = 10 * time.Second
	// flushTimeout bounds how long stopping waits for queued events to be sent.
	flushTimeout = 5 * time.Second
)

// NewRecorder returns the runner's events.k8s.io recorder, with reporting controller
// "chat-runner" and reporting instance the pod, and a func that stops it after sending the
// events already recorded (for up to 5s). Recording never blocks: events are queued and
// sent in the background, and dropped when the queue is full.
//
// Unlike client-go's broadcaster it does not fold events of the same reason into a series:
// every chat keeps its own event, and note, such as "Chat c-1 (conversation abc): agent
// Alice joined". The client's rate limit (rest.Config QPS) paces the writes.
func NewRecorder(cfg *rest.Config, pod string) (events.EventRecorder, func(), error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the events client: %w", err)
	}
	r := newRecorder(cs.EventsV1(), scheme.New(), pod, logf.Log.WithName("events"), time.Second)
	return r, r.stop, nil
}

// recorder sends events from a queue, one at a time.
type recorder struct {
	client typedeventsv1.EventsV1Interface
	scheme *runtime.Scheme
	pod    string
	log    logr.Logger

	ctx    context.Context // ends when stopping gives up on the queue
	cancel context.CancelFunc
	done   chan struct{} // closed when the queue is drained

	backoff wait.Backoff // spaces the attempts to send one event

	mu      sync.RWMutex // guards stopped and the closing of queue
	stopped bool
	queue   chan *eventsv1.Event
}

var _ events.EventRecorder = (*recorder)(nil)

// newRecorder starts a recorder; a failed send is retried after retryDelay, then twice it,
// each wait with jitter (sendBackoff).
func newRecorder(client typedeventsv1.EventsV1Interface, scheme *runtime.Scheme, pod string, log logr.Logger, retryDelay time.Duration) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{
		client: client, scheme: scheme, pod: pod, log: log,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), backoff: sendBackoff(retryDelay),
		queue: make(chan *eventsv1.Event, queueLength),
	}
	go r.run()
	return r
}

// Eventf queues an event regarding an object; it never blocks.
func (r *recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		r.log.Error(err, "Dropped an event of an object without a reference", "reason", reason)
		return
	}
	var relatedRef *corev1.ObjectReference
	if related != nil {
		if relatedRef, err = reference.GetReference(r.scheme, related); err != nil {
			r.log.V(1).Info("Recorded an event without its related object", "reason", reason, "error", err.Error())
		}
	}
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: eventName(ref.Name, now), Namespace: namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ReportingController,
		ReportingInstance:   r.pod,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             relatedRef,
		Note:                text.Truncate(fmt.Sprintf(note, args...), text.NoteLimit),
		Type:                eventtype,
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.stopped {
		return
	}
	select {
	case r.queue <- ev:
	default:
		r.log.Info("Dropped an event: too many events waiting", "reason", reason)
	}
}

// eventName names an event as client-go does, <object>.<time in hex>, with a random
// suffix: runners of one gateway record on the same object at once.
func eventName(object string, now time.Time) string {
	return fmt.Sprintf("%s.%x%s", object, now.UnixNano(), strings.ToLower(rand.Text()[:4]))
}

// run sends the queued events until the queue is closed and drained.
func (r *recorder) run() {
	defer close(r.done)
	dropped := 0
	for ev := range r.queue {
		if r.ctx.Err() != nil {
			dropped++
			continue
		}
		r.send(ev)
	}
	if dropped > 0 {
		r.log.Info("Dropped events on stopping", "count", dropped)
	}
}

// sendBackoff spaces the sendAttempts attempts to send one event: retryDelay, then
// doubling, with jitter, so that the runners of a gateway, which all record when the API
// server comes back, do not retry in lock-step.
func sendBackoff(retryDelay time.Duration) wait.Backoff {
	b := retryBackoff(retryDelay, 0)
	b.Steps = sendAttempts
	return b
}

// send creates an event, retrying while the API server is unavailable.
func (r *recorder) send(ev *eventsv1.Event) {
	attempts := 0
	var last error // of the last attempt
	err := wait.ExponentialBackoffWithContext(r.ctx, r.backoff, func(ctx context.Context) (bool, error) {
		attempts++
		ctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		_, last = r.client.Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{})
		switch {
		case last == nil:
			return true, nil
		case retriable(last):
			return false, nil
		default:
			return false, last
		}
	})
	if err == nil || r.ctx.Err() != nil {
		return
	}
	r.log.Error(last, "Failed to record an event", "reason", ev.Reason, "attempts", attempts)
}

// retriable tells whether a failed create may succeed when tried again.
func retriable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // a transport error
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err)
}

// stop stops recording, and waits for the queued events to be sent, for up to flushTimeout.
func (r *recorder) stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	close(r.queue)
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(flushTimeout):
		r.cancel()
		<-r.done
	}
	r.cancel()
}
