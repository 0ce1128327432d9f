package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// FieldOwnerPrefix starts the field manager of every runner's status entry; the pod name
// follows.
const FieldOwnerPrefix = "chat-runner/"

// maxBackOff bounds the wait before retrying a failed write, unless MinInterval is longer.
const maxBackOff = 30 * time.Second

// StatusOptions configure a StatusWriter.
type StatusOptions struct {
	// Client writes the gateway's status.
	Client client.Client
	// Gateway is the runner's GenesysGateway.
	Gateway types.NamespacedName
	// Pod is the runner's pod name: the key of its entry.
	Pod string
	// Clock paces the writes; the real clock when nil.
	Clock clock.WithTicker
	// MinInterval is the least time between two writes; 1s when 0.
	MinInterval time.Duration
	// Log receives the writer's logs.
	Log logr.Logger
	// OnWrite, when set, is called after every successful write (metrics).
	OnWrite func()
}

// StatusWriter server-side-applies this runner's entry of status.runners (a list map
// keyed by pod) under its own field manager, "chat-runner/<pod>", with ForceOwnership,
// touching nothing else: each runner owns only its entry, the operator the rest.
type StatusWriter struct {
	o      StatusOptions
	writes atomic.Int64
	// last is the entry last written, without its update time, as JSON: what the API
	// server keeps of it (times to the second).
	last []byte
}

// NewStatusWriter returns a writer; Run starts it.
func NewStatusWriter(o StatusOptions) *StatusWriter {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MinInterval <= 0 {
		o.MinInterval = time.Second
	}
	return &StatusWriter{o: o}
}

// Writes returns the number of successful writes.
func (w *StatusWriter) Writes() int { return int(w.writes.Load()) }

// Run writes source() at once, then whenever changed fires, at most once per MinInterval:
// a burst of changes is coalesced into one write of the latest entry at the end of the
// interval. An entry equal to the last one written (update time aside) is not written. A
// failed write is retried with the latest entry after a back-off: from MinInterval,
// doubling, up to 30s (or MinInterval, if longer). Each wait is up to a fifth longer, at
// random, so that runners do not retry in lock-step, but never above that limit. source
// returns the runner's entry; the writer sets its pod and update time. Run returns when
// ctx ends.
func (w *StatusWriter) Run(ctx context.Context, source func() chatv1alpha1.RunnerStatus, changed <-chan struct{}) {
	var (
		dirty    = true        // the entry may differ from the last one written
		next     time.Time     // no write before then
		failures int           // consecutive failed writes
		backoff  = w.backoff() // the waits of the next retries; restarted by a write
		timer    clock.Timer   // armed while a due write waits for next
		due      <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if dirty && due == nil {
			now := w.o.Clock.Now()
			if left := next.Sub(now); left > 0 {
				timer = w.o.Clock.NewTimer(left)
				due = timer.C()
				continue
			}
			dirty = false
			written, err := w.write(ctx, source())
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				failures++
				dirty = true
				delay := nextWait(&backoff)
				next = now.Add(delay)
				w.o.Log.Error(err, "Failed to write the runner's status entry", "retryIn", delay, "failures", failures)
			case written:
				if failures > 0 {
					w.o.Log.Info("Wrote the runner's status entry after failures", "failures", failures)
				}
				failures, backoff = 0, w.backoff()
				next = now.Add(w.o.MinInterval)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			dirty = true
		case <-due:
			timer, due = nil, nil
		}
	}
}

// write applies the entry unless it equals the last one written, and tells whether it did.
func (w *StatusWriter) write(ctx context.Context, entry chatv1alpha1.RunnerStatus) (bool, error) {
	entry = clamp(entry)
	entry.Pod = w.o.Pod
	entry.UpdateTime = nil
	key, err := json.Marshal(entry)
	if err != nil {
		return false, fmt.Errorf("encoding status entry: %w", err)
	}
	if w.last != nil && bytes.Equal(key, w.last) {
		return false, nil
	}
	entry.UpdateTime = &metav1.Time{Time: w.o.Clock.Now()}
	if err := w.apply(ctx, entry); err != nil {
		return false, err
	}
	w.last = key
	w.writes.Add(1)
	if w.o.OnWrite != nil {
		w.o.OnWrite()
	}
	return true, nil
}

// apply server-side applies the gateway's status with this runner's entry alone.
func (w *StatusWriter) apply(ctx context.Context, entry chatv1alpha1.RunnerStatus) error {
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&entry)
	if err != nil {
		return fmt.Errorf("converting status entry: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{"runners": []any{fields}},
	}}
	u.SetGroupVersionKind(chatv1alpha1.GroupVersion.WithKind("GenesysGateway"))
	u.SetNamespace(w.o.Gateway.Namespace)
	u.SetName(w.o.Gateway.Name)
	err = w.o.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldOwnerPrefix+w.o.Pod), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("applying the status entry of %s to GenesysGateway %s: %w", w.o.Pod, w.o.Gateway, err)
	}
	return nil
}

// backoff is the waits before retrying failed writes: from MinInterval, doubling, up to
// maxBackOff or MinInterval if longer, with jitter. It restarts after a write.
func (w *StatusWriter) backoff() wait.Backoff {
	return retryBackoff(w.o.MinInterval, max(maxBackOff, w.o.MinInterval))
}
