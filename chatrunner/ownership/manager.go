package ownership

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// ErrNotHeld is returned by Release for an ordinal this runner does not hold.
var ErrNotHeld = errors.New("chat store lease not held")

// Manager holds the chat store Leases this runner owns and competes for the ones the
// policy gives it. Create it with New and run it with Run.
type Manager struct {
	opts Options
	log  logr.Logger
	obs  *observer

	mu       sync.Mutex
	electors map[int]*elector
	// notBefore keeps this runner from competing again for an ordinal it just gave up.
	notBefore map[int]time.Time
	// base is Run's context, the parent of the (detached) elector contexts.
	base context.Context
}

// New checks the options and returns a Manager that does nothing until Run.
func New(opts Options) (*Manager, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Manager{
		opts:      o,
		log:       o.Log.WithValues("identity", o.Identity),
		obs:       newObserver(o.Client, o.Gateway.Namespace, o.Clock),
		electors:  map[int]*elector{},
		notBefore: map[int]time.Time{},
	}, nil
}

// Run owns chats until ctx ends, then releases every held ordinal gracefully (OnRelease,
// then the Lease is emptied so a successor takes over at once) and returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.base != nil {
		m.mu.Unlock()
		return errors.New("ownership: Run called twice")
	}
	m.base = ctx
	m.mu.Unlock()
	defer m.obs.stop()

	tick := m.opts.Clock.NewTicker(m.opts.RetryPeriod)
	defer tick.Stop()
	for {
		m.reconcile(ctx)
		select {
		case <-ctx.Done():
			m.shutdown(ctx)
			return nil
		case <-tick.C():
		case <-m.obs.changed:
		}
	}
}

// shutdown releases every held ordinal in parallel and stops the other electors.
func (m *Manager) shutdown(ctx context.Context) {
	m.mu.Lock()
	es := make([]*elector, 0, len(m.electors))
	for _, e := range m.electors {
		es = append(es, e)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() { m.release(ctx, e) })
	}
	wg.Wait()
}

// nudge makes Run reconcile soon, e.g. after an elector acquired or stopped.
func (m *Manager) nudge() {
	select {
	case m.obs.changed <- struct{}{}:
	default:
	}
}

// Held returns the ordinals this runner holds, sorted.
func (m *Manager) Held() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for k, e := range m.electors {
		if e.isHeld() {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Owner returns the holder of an ordinal's Lease if it has not expired, from the watched
// state: no API call. ok is false for a vacant, expired or unwatched Lease.
func (m *Manager) Owner(ordinal int) (identity string, ok bool) {
	st := m.obs.state(ordinal)
	if !st.valid(m.opts.Clock.Now()) {
		return "", false
	}
	return st.holder, true
}

// Vanished reports whether an ordinal's Lease is known not to exist: seen deleted, or
// missing or forbidden when listed. The operator removes a store only once it holds no
// chat, so a vanished store has no chat to look for.
func (m *Manager) Vanished(ordinal int) bool { return m.obs.state(ordinal).deleted }

// Release gives up a held ordinal gracefully (OnRelease, then release) and keeps this
// runner from competing for it for one lease duration, so that another runner takes it.
func (m *Manager) Release(ctx context.Context, ordinal int) error {
	m.mu.Lock()
	e := m.electors[ordinal]
	if e == nil || !e.isHeld() {
		m.mu.Unlock()
		return fmt.Errorf("release ordinal %d: %w", ordinal, ErrNotHeld)
	}
	m.notBefore[ordinal] = m.opts.Clock.Now().Add(m.opts.LeaseDuration)
	m.mu.Unlock()
	m.release(ctx, e)
	return nil
}

// reconcile applies the policy to every watched ordinal once.
func (m *Manager) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	ordinals := m.opts.Ordinals()
	replicas := m.opts.Replicas()
	m.mu.Lock()
	for k, e := range m.electors {
		select {
		case <-e.done:
			delete(m.electors, k)
		default:
		}
	}
	want := map[int]string{m.opts.Self: chatstore.LeaseName(m.opts.Gateway, m.opts.Self)}
	for _, k := range ordinals {
		want[k] = chatstore.LeaseName(m.opts.Gateway, k)
	}
	for k, e := range m.electors { // keep watching what we hold
		want[k] = e.name
	}
	m.mu.Unlock()
	m.obs.sync(ctx, want)

	now := m.opts.Clock.Now()
	for k, name := range want {
		st := m.obs.state(k)
		m.mu.Lock()
		e := m.electors[k]
		m.mu.Unlock()
		if e != nil && st.deleted && e.isHeld() {
			// The operator removed the store: nothing is left to own or release, and the
			// elector could only fail to renew (runners cannot create Leases).
			go m.lose(e, "lease deleted")
			continue
		}
		if k == m.opts.Self {
			m.reconcileOwn(ctx, name, st, replicas, now)
		} else {
			m.reconcilePeer(ctx, k, name, st, slices.Contains(ordinals, k), replicas, now)
		}
	}
}

// reconcileOwn keeps competing for the own ordinal and asks for it back from a peer.
func (m *Manager) reconcileOwn(ctx context.Context, name string, st leaseState, replicas int, now time.Time) {
	k := m.opts.Self
	m.mu.Lock()
	e := m.electors[k]
	if e == nil && st.exists && !now.Before(m.notBefore[k]) {
		e = m.start(k, name)
	}
	m.mu.Unlock()
	held := e != nil && e.isHeld()
	switch {
	case held && st.handback != "":
		if err := m.setHandback(ctx, name, ""); err != nil {
			m.logError(ctx, err, "Could not clear the hand-back request", "lease", name)
			return
		}
		m.log.Info("Cleared the hand-back request", "lease", name)
	case !held && k < replicas && shouldAskBack(st, m.opts.Identity, now):
		if err := m.setHandback(ctx, name, m.opts.Identity); err != nil {
			m.logError(ctx, err, "Could not ask for the own chat store lease back", "lease", name)
			return
		}
		m.log.Info("Asked for the own chat store lease back", "lease", name, "holder", st.holder)
	}
}

// reconcilePeer hands a peer's ordinal back when asked and adopts vacant ones.
func (m *Manager) reconcilePeer(ctx context.Context, k int, name string, st leaseState, listed bool, replicas int, now time.Time) {
	m.mu.Lock()
	e := m.electors[k]
	m.mu.Unlock()
	if e != nil {
		home := gateway.RunnerPodName(m.opts.Gateway, k)
		switch {
		case e.isHeld() && !e.isReleasing() && shouldHandBack(k, m.opts.Self, replicas, st, home):
			m.mu.Lock()
			m.notBefore[k] = now.Add(m.opts.LeaseDuration)
			m.mu.Unlock()
			e.log.Info("Handing back chat store lease", "to", home)
			go m.release(ctx, e)
		case !e.isHeld() && (!listed || now.After(e.started.Add(m.opts.LeaseDuration))):
			// Stop competing for a store that is gone, or after a claim whose elector did
			// not acquire: it would otherwise take the Lease outside the adoption policy.
			go m.release(ctx, e)
		}
		return
	}
	m.mu.Lock()
	blocked := now.Before(m.notBefore[k])
	m.mu.Unlock()
	if !listed || blocked || !mayAdopt(k, m.opts.Self, replicas, st, now, m.opts.LeaseDuration) {
		return
	}
	claimed, err := m.claim(ctx, st.lease)
	if err != nil {
		m.logError(ctx, err, "Could not claim vacant chat store lease", "lease", name, "ordinal", k)
		return
	}
	if !claimed {
		return
	}
	m.log.Info("Claimed vacant chat store lease", "lease", name, "ordinal", k, "previousHolder", st.holder)
	m.mu.Lock()
	m.start(k, name)
	m.mu.Unlock()
}

// logError logs a failed write unless it failed because Run is ending.
func (m *Manager) logError(ctx context.Context, err error, msg string, kv ...any) {
	if ctx.Err() == nil {
		m.log.Error(err, msg, kv...)
	}
}

// start runs an elector for an ordinal; called with m.mu held.
func (m *Manager) start(k int, name string) *elector {
	e, err := m.startElector(m.base, k, name)
	if err != nil { // only on invalid timings, which New has checked
		m.log.Error(err, "Could not start leader election", "lease", name)
		return nil
	}
	m.electors[k] = e
	return e
}
