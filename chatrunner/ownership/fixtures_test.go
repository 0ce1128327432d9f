package ownership_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/ownership"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Short lease timings, so that expiries happen within a test.
const (
	leaseDuration = 2 * time.Second
	renewDeadline = 1500 * time.Millisecond
	retryPeriod   = 250 * time.Millisecond
)

// fixture is a namespace with a gateway "gw", the Leases of its ordinals as the operator
// creates them (no spec), and the runners' Role on them.
type fixture struct {
	t        *testing.T
	gw       *chatv1alpha1.GenesysGateway
	replicas atomic.Int32
	ordinals []int
}

func newFixture(t *testing.T, replicas int, ordinals ...int) *fixture {
	t.Helper()
	needAPIServer(t)
	t.Parallel()
	ctx := t.Context()
	ns, err := kube.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ownership-"}}, metav1.CreateOptions{})
	must(t, err)
	f := &fixture{t: t, ordinals: ordinals,
		gw: &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: ns.Name}}}
	f.replicas.Store(int32(replicas))
	var names []string
	for _, k := range ordinals {
		names = append(names, chatstore.LeaseName(f.gw, k))
		_, err := kube.CoordinationV1().Leases(ns.Name).Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: chatstore.LeaseName(f.gw, k)}}, metav1.CreateOptions{})
		must(t, err)
	}
	// The Leases part of the runner's Role (controllers/render.Role): by name, no create.
	_, err = kube.RbacV1().Roles(ns.Name).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "runner"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			ResourceNames: names, Verbs: []string{"get", "list", "watch", "update", "patch"}}},
	}, metav1.CreateOptions{})
	must(t, err)
	_, err = kube.RbacV1().RoleBindings(ns.Name).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "runner"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "runner"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "runner"}},
	}, metav1.CreateOptions{})
	must(t, err)
	return f
}

// lease returns an ordinal's Lease as the admin sees it.
func (f *fixture) lease(k int) *coordinationv1.Lease {
	f.t.Helper()
	l, err := kube.CoordinationV1().Leases(f.gw.Namespace).Get(context.Background(), chatstore.LeaseName(f.gw, k), metav1.GetOptions{})
	must(f.t, err)
	return l
}

// holder is the holder identity written on an ordinal's Lease.
func (f *fixture) holder(k int) string {
	l := f.lease(k)
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// event is one callback of a runner's manager.
type event struct {
	kind    string // acquired, release, lost
	ordinal int
	at      time.Time
	// holderAtRelease is the Lease's holder when OnRelease ran.
	holderAtRelease string
}

// runner is one chat runner process: a Manager with recorded callbacks, running as the
// runner's user through a transport that a test can cut (partition).
type runner struct {
	f        *fixture
	k        int
	id       string
	m        *ownership.Manager
	cut      atomic.Bool
	stop     context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	events   []event
	cutSince time.Time
}

// start runs runner k until the test ends or stop is called.
func (f *fixture) start(k int) *runner {
	f.t.Helper()
	r := &runner{f: f, k: k, id: gateway.RunnerPodName(f.gw, k), done: make(chan struct{})}
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "runner"}
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &cuttable{rt: rt, cut: &r.cut} })
	client, err := kubernetes.NewForConfig(c)
	must(f.t, err)
	r.m, err = ownership.New(ownership.Options{
		Client: client, Gateway: f.gw, Self: k, Identity: r.id,
		Replicas:      func() int { return int(f.replicas.Load()) },
		Ordinals:      func() []int { return f.ordinals },
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		OnAcquired: func(_ context.Context, o int) { r.record(event{kind: "acquired", ordinal: o}) },
		OnRelease: func(_ context.Context, o int) {
			r.record(event{kind: "release", ordinal: o, holderAtRelease: f.holder(o)})
		},
		OnLost: func(o int) { r.record(event{kind: "lost", ordinal: o}) },
		Log:    f.logger().WithValues("runner", k),
	})
	must(f.t, err)
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() {
		defer close(r.done)
		if err := r.m.Run(ctx); err != nil {
			f.t.Errorf("runner %d: %v", k, err)
		}
	}()
	f.t.Cleanup(r.shutdown)
	return r
}

// shutdown stops the runner gracefully and waits for Run to return.
func (r *runner) shutdown() {
	r.stop()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.f.t.Errorf("runner %d did not stop", r.k)
	}
}

// partition makes every new API request of the runner fail, from now on.
func (r *runner) partition() {
	r.mu.Lock()
	r.cutSince = time.Now()
	r.mu.Unlock()
	r.cut.Store(true)
}

func (r *runner) record(e event) {
	e.at = time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// first returns the first event of a kind for an ordinal.
func (r *runner) first(kind string, k int) (event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.kind == kind && e.ordinal == k {
			return e, true
		}
	}
	return event{}, false
}

// waitEvent waits for an event of a kind for an ordinal.
func (r *runner) waitEvent(kind string, k int, timeout time.Duration) event {
	r.f.t.Helper()
	var e event
	eventually(r.f.t, timeout, func() bool {
		var ok bool
		e, ok = r.first(kind, k)
		return ok
	}, func() string { return fmt.Sprintf("runner %d: no %s event for ordinal %d", r.k, kind, k) })
	return e
}

// waitHeld waits until the runner holds exactly the ordinals given.
func (r *runner) waitHeld(timeout time.Duration, want ...int) {
	r.f.t.Helper()
	eventually(r.f.t, timeout, func() bool { return slices.Equal(r.m.Held(), want) },
		func() string { return fmt.Sprintf("runner %d holds %v, want %v", r.k, r.m.Held(), want) })
}

// cuttable fails every request while cut, as if the runner were partitioned away.
type cuttable struct {
	rt  http.RoundTripper
	cut *atomic.Bool
}

func (c *cuttable) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("partitioned")
	}
	return c.rt.RoundTrip(req)
}

// logger logs to the test until it ends: client-go goroutines may still log after.
func (f *fixture) logger() logr.Logger {
	var ended atomic.Bool
	f.t.Cleanup(func() { ended.Store(true) })
	return funcr.New(func(prefix, args string) {
		if !ended.Load() {
			f.t.Log(prefix, args)
		}
	}, funcr.Options{})
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
