package ownership

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// elector is this runner's client-go LeaderElector for one ordinal, with the state that
// turns client-go's two callbacks into OnAcquired, OnRelease and OnLost.
type elector struct {
	ordinal int
	name    string
	log     logr.Logger
	lock    *renewLock
	// cancel ends the elector's context; client-go then releases the Lease (ReleaseOnCancel).
	cancel context.CancelFunc
	// done is closed when the elector has stopped and released.
	done chan struct{}
	// started is when the elector was started.
	started time.Time

	mu sync.Mutex
	// held is true between acquiring and stopping.
	held bool
	// stopped is set once client-go's OnStoppedLeading ran.
	stopped bool
	// releasing is set when a graceful release has begun (OnRelease may be running).
	releasing bool
	// cancelled is set when this runner ended the elector on purpose, after OnRelease.
	cancelled bool
	// lost is set once OnLost was called.
	lost bool
	// ownCancel ends the ownership context given to OnAcquired.
	ownCancel context.CancelFunc
	// acquiredDone is closed when OnAcquired has returned.
	acquiredDone chan struct{}
}

// renewLock records when this runner last wrote the Lease as its holder, so a watchdog
// can report the loss within the renew deadline. client-go alone reports it only after
// its release attempt, which in a partition can take one more renew deadline and then
// comes after a peer may already have acquired.
type renewLock struct {
	resourcelock.Interface
	clock clock.PassiveClock

	mu       sync.Mutex
	last     time.Time
	released bool
}

// Update records the time the successful write was sent: the API server wrote it later,
// so peers measure its expiry from a later instant.
func (l *renewLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := l.clock.Now()
	err := l.Interface.Update(ctx, ler)
	if err == nil {
		l.mu.Lock()
		if ler.HolderIdentity != "" {
			l.last = sent
		} else {
			l.released = true
		}
		l.mu.Unlock()
	}
	// Unwrapped: client-go tells a conflict from other errors by the error's type.
	return err
}

func (l *renewLock) lastRenew() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.released
}

// startElector runs a LeaderElector for one ordinal until it stops leading or is
// cancelled. Its context is detached from Run's, so that on shutdown OnRelease runs
// before the elector is cancelled and releases the Lease.
func (m *Manager) startElector(base context.Context, ordinal int, name string) (*elector, error) {
	e := &elector{ordinal: ordinal, name: name, done: make(chan struct{}), started: m.opts.Clock.Now(),
		log: m.log.WithValues("lease", name, "ordinal", ordinal)}
	e.lock = &renewLock{clock: m.opts.Clock, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: m.opts.Gateway.Namespace, Name: name},
		Client:     m.opts.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: m.opts.Identity},
	}}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            e.lock,
		Name:            name,
		LeaseDuration:   m.opts.LeaseDuration,
		RenewDeadline:   m.opts.RenewDeadline,
		RetryPeriod:     m.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { m.started(ctx, e) },
			OnStoppedLeading: func() { m.stopped(e) },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader elector for lease %s: %w", name, err)
	}
	ctx, cancel := context.WithCancel(klog.NewContext(context.WithoutCancel(base), m.log.WithName("election")))
	e.cancel = cancel
	go func() {
		defer close(e.done)
		defer m.nudge()
		le.Run(ctx)
	}()
	return e, nil
}

// started is client-go's OnStartedLeading: hand the ordinal to OnAcquired and watch the
// renewals.
func (m *Manager) started(leading context.Context, e *elector) {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(leading)
	e.held, e.ownCancel, e.acquiredDone = true, cancel, make(chan struct{})
	done := e.acquiredDone
	e.mu.Unlock()
	e.log.Info("Acquired chat store lease")
	m.nudge()
	go m.watchdog(leading, e) // not ctx: it must outlive the ownership during OnRelease
	defer close(done)
	m.opts.OnAcquired(ctx, e.ordinal)
}

// stopped is client-go's OnStoppedLeading. Unless this runner ended the elector after
// OnRelease, stopping while leading means the Lease was lost.
func (m *Manager) stopped(e *elector) {
	e.mu.Lock()
	wasHeld, cancelled := e.held, e.cancelled
	e.held, e.stopped = false, true
	e.mu.Unlock()
	if !wasHeld {
		return
	}
	if !cancelled {
		m.lose(e, "renewal failed")
		return
	}
	if _, released := e.lock.lastRenew(); released {
		e.log.Info("Released chat store lease")
	} else {
		e.log.Info("Gave up chat store lease without releasing it; it expires")
	}
}

// lose reports the loss of an ordinal once: its chats must not be touched any more.
func (m *Manager) lose(e *elector, reason string) {
	e.mu.Lock()
	if e.lost || e.cancelled {
		e.mu.Unlock()
		return
	}
	e.lost = true
	cancel, releasing := e.ownCancel, e.releasing
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.log.Info("Lost chat store lease", "reason", reason)
	m.opts.OnLost(e.ordinal)
	if !releasing { // else release ends the elector once OnRelease has returned
		e.cancel()
	}
	m.nudge()
}

// watchdog reports the loss as soon as no renewal has succeeded for the renew deadline,
// which is shorter than the lease duration: this runner stops before a peer can acquire.
func (m *Manager) watchdog(ctx context.Context, e *elector) {
	t := m.opts.Clock.NewTicker(m.opts.RetryPeriod / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		last, _ := e.lock.lastRenew()
		if m.opts.Clock.Since(last) > m.opts.RenewDeadline {
			m.lose(e, "not renewed within the renew deadline")
			return
		}
	}
}

// release gives up a held ordinal gracefully: end the ownership, let OnRelease write the
// final records while the Lease is still renewed, then cancel the elector, which empties
// the holder so a successor acquires at once. An elector that does not hold is just
// stopped. release returns when the elector has stopped.
func (m *Manager) release(ctx context.Context, e *elector) {
	e.mu.Lock()
	if e.releasing { // another release is writing the final records
		e.mu.Unlock()
		<-e.done
		return
	}
	if !e.held || e.lost {
		e.mu.Unlock()
		e.cancel()
		<-e.done
		return
	}
	e.releasing = true
	ownCancel, acquired := e.ownCancel, e.acquiredDone
	e.mu.Unlock()

	ownCancel()
	select {
	case <-acquired:
	case <-m.opts.Clock.After(m.opts.ReleaseTimeout):
		e.log.Info("OnAcquired did not return; releasing anyway")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.ReleaseTimeout)
	defer cancel()
	m.opts.OnRelease(rctx, e.ordinal)

	e.mu.Lock()
	e.cancelled = !e.lost
	e.mu.Unlock()
	e.cancel()
	<-e.done
}

// isHeld reports whether the elector holds its ordinal and has not lost it.
func (e *elector) isHeld() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held && !e.lost
}

// isReleasing reports whether a graceful release has begun.
func (e *elector) isReleasing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.releasing
}
