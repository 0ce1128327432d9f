package chat

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// GMS is what the engine calls on Genesys; *gms.Client implements it.
type GMS interface {
	RequestChat(ctx context.Context, req gms.ChatRequest) (*gms.Session, *gms.Response, error)
	Refresh(ctx context.Context, s *gms.Session, position int) (*gms.Response, error)
	Send(ctx context.Context, s *gms.Session, text, messageType string, position int) (*gms.Response, error)
	StartTyping(ctx context.Context, s *gms.Session, preview string) (*gms.Response, error)
	StopTyping(ctx context.Context, s *gms.Session, preview string) (*gms.Response, error)
	Disconnect(ctx context.Context, s *gms.Session) (*gms.Response, error)
	PushURL(ctx context.Context, s *gms.Session, url string) (*gms.Response, error)
}

// Options configure a Manager.
type Options struct {
	// GMS is the gateway's Chat API client.
	GMS GMS
	// Settings are the initial settings.
	Settings Settings
	// Clock drives polls, timeouts and timestamps; the real clock when nil.
	Clock clock.WithTicker
	// Log receives the engine's logs; never a secure key.
	Log logr.Logger
	// Observers learn of every chat transition (events, metrics).
	Observers []Observer
	// IDPrefix starts every chat id, so that any runner can tell which one owns a chat
	// (the runner's ordinal).
	IDPrefix string
	// Retention keeps ended chats readable through the API this long; 10 minutes when 0.
	Retention time.Duration
	// PollLateness observes how late each poll started; optional.
	PollLateness func(time.Duration)
	// PollDeferred is called for each turn of a chat that could not start when due: its
	// previous poll was still in flight (a slow Genesys, or a runner short of CPU), so it
	// runs when that one ends, or no poller could take it; optional.
	PollDeferred func()
	// Store keeps the chats' durable records; nil keeps chats in memory only.
	Store Store
	// Ordinal is this runner's ordinal: its new chats go into that ordinal's store.
	Ordinal int
	// ProbeIdle is how long without an answer from Genesys before the runner probes it;
	// DefaultProbeIdle (30 s) when 0.
	ProbeIdle time.Duration
	// ProbeRetry is how often the runner probes again while its last call or probe
	// failed; DefaultProbeRetry (10 s) when 0. Run looks whether a probe is due every 2 s,
	// or every half of ProbeRetry when that is shorter.
	ProbeRetry time.Duration
}

// Manager runs every chat of one runner.
type Manager struct {
	opts     Options
	clock    clock.WithTicker
	log      logr.Logger
	settings atomic.Pointer[Settings]
	sched    *scheduler
	changed  chan struct{}

	// base is the context of calls that outlive a request (request chat, polls,
	// disconnects): Run's.
	base    context.Context
	running chan struct{}

	mu             sync.Mutex
	chats          map[string]*chat
	byConversation map[string]*chat
	active         *list.List // live chats, oldest first
	ended          []*chat    // ended chats, oldest first, until retention passes
	agents         agentPool
	counts         counts
	handover       HandoverCounts
	// handedOver are the ids of chats that left for another runner, until the retention
	// passes: the API tells their readers to ask again instead of "not found".
	handedOver map[string]time.Time
	draining   atomic.Bool
	// lag is how far behind its poll schedule the runner is.
	lag lagTracker
	// admit paces new chats after a shed; under mu.
	admit admission
}

// counts are a runner's chat counters.
type counts struct {
	waiting, connected int
	endedTotal         int64
	failedTotal        int64
	lastPoll           time.Time
	lastError          string
	// answered is when Genesys last answered a call or probe; failures counts the calls
	// and probes since then that it did not answer; lastProbe is when the last probe
	// started.
	answered, lastProbe time.Time
	failures            int
	// authFailed says lastError is a refusal of the credentials.
	authFailed bool
}

// NewManager returns a manager; Run starts it.
func NewManager(opts Options) *Manager {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Retention <= 0 {
		opts.Retention = 10 * time.Minute
	}
	m := &Manager{
		opts:           opts,
		clock:          opts.Clock,
		log:            opts.Log,
		changed:        make(chan struct{}, 1),
		running:        make(chan struct{}),
		chats:          map[string]*chat{},
		byConversation: map[string]*chat{},
		handedOver:     map[string]time.Time{},
		active:         list.New(),
	}
	m.sched = newScheduler(m.clock, opts.Settings.PollInterval, m.firePoll)
	m.Configure(opts.Settings)
	m.agents.refreshed = m.clock.Now()
	return m
}

// Configure applies new settings to running and future chats.
func (m *Manager) Configure(s Settings) {
	if s.PollInterval <= 0 {
		s.PollInterval = defaultPollInterval
	}
	m.settings.Store(&s)
	m.sched.setInterval(s.PollInterval)
	m.mu.Lock()
	m.agents.resize(s.Agents)
	m.mu.Unlock()
	m.notify()
}

// Settings returns the current settings.
func (m *Manager) Settings() *Settings { return m.settings.Load() }

// Changed signals (coalesced) that the runner's status changed.
func (m *Manager) Changed() <-chan struct{} { return m.changed }

// Run polls chats until ctx ends. Chats still live then are left to Genesys' idle timeout.
func (m *Manager) Run(ctx context.Context) error {
	m.base = ctx
	close(m.running)
	sweep := m.clock.NewTicker(time.Minute)
	defer sweep.Stop()
	_, _, tick := m.probeTimings()
	probe := m.clock.NewTicker(tick)
	defer probe.Stop()
	go m.sched.run(ctx)
	probing := make(chan struct{}, 1)
	probeSoon := func() {
		select {
		case probing <- struct{}{}: // one probe at a time, off this loop
			go func() { defer func() { <-probing }(); m.probeIfDue(ctx) }()
		default:
		}
	}
	probeSoon()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep.C():
			m.sweep()
		case <-probe.C():
			probeSoon()
		}
	}
}

// notify signals a status change without blocking.
func (m *Manager) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// get returns a chat by id.
func (m *Manager) get(id string) (*chat, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.chats[id]
	if !ok {
		if _, away := m.handedOver[id]; away {
			return nil, ErrHandedOver
		}
		return nil, ErrNotFound
	}
	return c, nil
}

// newID returns a chat id: the runner's prefix and 16 random hex digits.
func (m *Manager) newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	if m.opts.IDPrefix == "" {
		return hex.EncodeToString(b)
	}
	return m.opts.IDPrefix + "-" + hex.EncodeToString(b)
}

// sweep forgets ended chats older than the retention, and re-announces agents.
func (m *Manager) sweep() {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.agents.refresh(now, m.Settings().AvailabilityRefresh)
	m.forgetHandedOver(now)
	n := 0
	for n < len(m.ended) && now.Sub(m.ended[n].endTime) > m.opts.Retention {
		delete(m.chats, m.ended[n].id)
		n++
	}
	m.ended = append(m.ended[:0:0], m.ended[n:]...)
}

// count moves a chat between the counters; called with m.mu held.
func (c *counts) move(from, to chatv1alpha1.ChatState) {
	c.add(from, -1)
	c.add(to, 1)
	switch to {
	case chatv1alpha1.ChatEnded, chatv1alpha1.ChatTransferred:
		c.endedTotal++
	case chatv1alpha1.ChatFailed:
		c.failedTotal++
	}
}

func (c *counts) add(s chatv1alpha1.ChatState, d int) {
	switch s {
	case chatv1alpha1.ChatRequesting, chatv1alpha1.ChatWaitingForAgent:
		c.waiting += d
	case chatv1alpha1.ChatConnected:
		c.connected += d
	}
}
