package ownership

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// leaseState is what a runner last observed of one ordinal's Lease.
type leaseState struct {
	// exists is false until the Lease has been seen, and after it was deleted.
	exists bool
	// lease is the last observed object, for optimistic writes (its resourceVersion).
	lease *coordinationv1.Lease
	// holder is spec.holderIdentity; empty when never held or released.
	holder string
	// everHeld is true once the Lease has a renewTime: someone held it at some point,
	// so its own runner has started at least once.
	everHeld bool
	// duration is spec.leaseDurationSeconds.
	duration time.Duration
	// observedAt is the local time at which the holder or renew time last changed. Like
	// client-go, expiry is measured from this local observation rather than from the
	// renewTime written by another clock, so clock skew between nodes does not matter.
	observedAt time.Time
	// handback is the AnnotationHandback value: the pod asking for the ordinal back.
	handback string
	// deleted is set when the Lease was seen deleted, or found missing or forbidden: the
	// operator removed the store (or has not created it yet).
	deleted bool
}

// valid reports whether the Lease is held and not expired at now.
func (s leaseState) valid(now time.Time) bool {
	return s.exists && s.holder != "" && now.Before(s.observedAt.Add(s.duration))
}

// vacantSince is when the Lease, once held, became free: when it was released, or when
// its holder's lease expired. ok is false for a fresh or validly held Lease.
func (s leaseState) vacantSince(now time.Time) (since time.Time, ok bool) {
	if !s.exists || !s.everHeld {
		return time.Time{}, false
	}
	if s.holder == "" {
		return s.observedAt, true
	}
	if s.valid(now) {
		return time.Time{}, false
	}
	return s.observedAt.Add(s.duration), true
}

// next returns the state after observing lease at now.
func (s leaseState) next(lease *coordinationv1.Lease, now time.Time) leaseState {
	n := leaseState{exists: true, lease: lease, observedAt: s.observedAt}
	sp := lease.Spec
	if sp.HolderIdentity != nil {
		n.holder = *sp.HolderIdentity
	}
	if sp.LeaseDurationSeconds != nil {
		n.duration = time.Duration(*sp.LeaseDurationSeconds) * time.Second
	}
	n.everHeld = sp.RenewTime != nil
	n.handback = lease.Annotations[chatstore.AnnotationHandback]
	if !s.exists || n.holder != s.holder || n.duration != s.duration ||
		!sameTime(sp.RenewTime, s.lease.Spec.RenewTime) {
		n.observedAt = now
	}
	return n
}

func sameTime(a, b *metav1.MicroTime) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// observer keeps one watch per Lease name, so that ownership decisions and Owner need no
// API call: runners may list/watch their Leases only with a metadata.name field selector.
type observer struct {
	client    kubernetes.Interface
	namespace string
	clock     clock.Clock
	// changed is nudged (never blocking) on every observed change.
	changed chan struct{}

	mu      sync.Mutex
	watches map[int]*leaseWatch
}

type leaseWatch struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	state  leaseState
}

func newObserver(client kubernetes.Interface, namespace string, clk clock.Clock) *observer {
	return &observer{client: client, namespace: namespace, clock: clk,
		changed: make(chan struct{}, 1), watches: map[int]*leaseWatch{}}
}

// sync watches exactly the Leases in want (ordinal → name), starting and stopping
// watches as needed.
func (o *observer) sync(ctx context.Context, want map[int]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, w := range o.watches {
		if want[k] != w.name {
			w.cancel()
			delete(o.watches, k)
		}
	}
	for k, name := range want {
		if _, ok := o.watches[k]; !ok {
			o.watches[k] = o.start(ctx, k, name)
		}
	}
}

// start runs an informer on the one Lease name; called with o.mu held.
func (o *observer) start(ctx context.Context, ordinal int, name string) *leaseWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &leaseWatch{name: name, cancel: cancel, done: make(chan struct{})}
	leases := o.client.CoordinationV1().Leases(o.namespace)
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			list, err := leases.List(ctx, opts)
			// No such Lease, or no right to it any more (the operator narrows the Role
			// once it removed a store): as good as deleted.
			if apierrors.IsForbidden(err) || err == nil && len(list.Items) == 0 {
				o.set(ordinal, w, func(leaseState) leaseState { return leaseState{deleted: true} })
			}
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return leases.Watch(ctx, opts)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &coordinationv1.Lease{}, 0, cache.Indexers{})
	update := func(obj any) {
		if l, ok := obj.(*coordinationv1.Lease); ok {
			o.set(ordinal, w, func(s leaseState) leaseState { return s.next(l.DeepCopy(), o.clock.Now()) })
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
		DeleteFunc: func(any) { o.set(ordinal, w, func(leaseState) leaseState { return leaseState{deleted: true} }) },
	})
	go func() {
		defer close(w.done)
		inf.RunWithContext(ctx)
	}()
	return w
}

// set updates a watch's state unless the watch was replaced, and nudges the manager.
func (o *observer) set(ordinal int, w *leaseWatch, f func(leaseState) leaseState) {
	o.mu.Lock()
	if o.watches[ordinal] == w {
		w.state = f(w.state)
	}
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// state returns what was last observed of an ordinal's Lease.
func (o *observer) state(ordinal int) leaseState {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.watches[ordinal]; ok {
		return w.state
	}
	return leaseState{}
}

// stop ends every watch and waits for them.
func (o *observer) stop() {
	o.mu.Lock()
	ws := o.watches
	o.watches = map[int]*leaseWatch{}
	o.mu.Unlock()
	for _, w := range ws {
		w.cancel()
		<-w.done
	}
}
