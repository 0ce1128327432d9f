package live

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Options configure a Watcher.
type Options struct {
	// Config reaches the API server as the runner (its ServiceAccount).
	Config *rest.Config
	// Gateway is the namespace and name of the watched GenesysGateway.
	Gateway types.NamespacedName
	// Log receives the Watcher's logs, which do not name the gateway: give it in Log's
	// values. Discarded when zero.
	Log logr.Logger
}

// Watcher keeps a live Snapshot of a gateway and its referenced objects. Create it with
// New and run it with Run.
type Watcher struct {
	gateway types.NamespacedName
	log     logr.Logger
	listers *listers

	current atomic.Pointer[Snapshot]
	changed chan struct{}
	ready   chan struct{}
	started atomic.Bool
	running sync.WaitGroup

	mu          sync.Mutex
	stopped     bool
	ctx         context.Context
	gatewayObj  *objectWatch
	watches     map[string]*objectWatch // by objectKey
	lastGateway *chatv1alpha1.GenesysGateway
}

// New creates a Watcher of a gateway. It makes no API call; Run starts the watches.
func New(opts Options) (*Watcher, error) {
	if opts.Config == nil {
		return nil, errors.New("live: Options.Config is required")
	}
	if opts.Gateway.Namespace == "" || opts.Gateway.Name == "" {
		return nil, fmt.Errorf("live: Options.Gateway needs a namespace and a name, got %q", opts.Gateway)
	}
	l, err := newListers(opts.Config, opts.Gateway.Namespace)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	w := &Watcher{
		gateway: opts.Gateway,
		log:     opts.Log,
		listers: l,
		changed: make(chan struct{}, 1),
		ready:   make(chan struct{}),
		watches: map[string]*objectWatch{},
	}
	w.current.Store(&Snapshot{Secrets: map[string]*corev1.Secret{}, ConfigMaps: map[string]*corev1.ConfigMap{}})
	return w, nil
}

// Run watches the gateway and its referenced objects until ctx ends, then stops every
// watch and returns nil. Failed lists and watches (e.g. forbidden) are retried with
// back-off and logged. It may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("live: Run called more than once")
	}
	ctx = logr.NewContext(ctx, clientGoLogger(w.log))
	w.mu.Lock()
	w.ctx = ctx
	w.gatewayObj = w.startWatch(ctx, gatewayKind, w.gateway.Name, w.refresh)
	w.mu.Unlock()
	w.log.Info("Started watching gateway")

	<-ctx.Done()
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.running.Wait()
	w.log.Info("Stopped watching gateway")
	return nil
}

// WaitForGateway blocks until the gateway has been seen and the watches of its
// referenced objects have listed them once (those that exist are then in Current), or
// until ctx ends. A reference the runner's Role does not allow (yet: the operator updates
// the Role after the gateway, and only once its references resolve) does not keep it
// waiting: it is missing from the snapshot, with an error saying so, until its watch,
// retrying, lists it.
func (w *Watcher) WaitForGateway(ctx context.Context) error {
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	snap := w.Current()
	if snap.Gateway == nil {
		return fmt.Errorf("GenesysGateway %s not seen: %w", w.gateway, context.Cause(ctx))
	}
	return fmt.Errorf("references of GenesysGateway %s not listed (%s): %w",
		w.gateway, strings.Join(snap.pending(), ", "), context.Cause(ctx))
}

// Current returns the latest snapshot; never nil (empty until the gateway is seen). It
// is cheap: call it whenever a value is needed.
func (w *Watcher) Current() *Snapshot { return w.current.Load() }

// Changed receives a signal after each new snapshot. Signals coalesce: one pending signal
// stands for any number of new snapshots, so read Current after receiving.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }
