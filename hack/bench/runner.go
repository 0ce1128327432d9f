package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/valyala/fasthttp"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// runnerSide carries the chats on the engine: one chat.Manager and its gms.Client, as the
// runner wires them (without its metrics, status writer and escalation API).
type runnerSide struct {
	m         *chat.Manager
	transport *http.Transport
	fast      *fasthttp.Client
	meter     *meter
	// ids are the engine's chat ids by index; "" when the escalation was refused. Written
	// by open during the ramp, read after it.
	ids []string
	// busy marks the chats with a probe running; after is each chat's last event seen by
	// its probes (owned by the probe holding busy).
	busy  []atomic.Bool
	after []int64
	// refusals counts the escalations refused and tried again.
	refusals atomic.Int64
}

// countingGMS is the runner's client, timing each Refresh Chat.
type countingGMS struct {
	*gms.Client
	meter *meter
}

func (c countingGMS) Refresh(ctx context.Context, s *gms.Session, position int) (*gms.Response, error) {
	start := time.Now()
	resp, err := c.Client.Refresh(ctx, s, position)
	if c.meter.measuring.Load() {
		c.meter.roundTrip.record(time.Since(start))
		if err != nil {
			c.meter.pollErrors.Add(1)
		}
	}
	return resp, err
}

// newRunnerSide starts the engine; with, when not nil, changes its options (the store mode
// adds a store).
func newRunnerSide(ctx context.Context, cfg config, m *meter, with func(*chat.Options)) (*runnerSide, error) {
	// The runner's settings with the CRD's defaults (apiRetry 5 attempts from 4.2 s, 10 s
	// per attempt).
	// As the runner's transport does: net/http, and fasthttp for Refresh Chat.
	transport, fast := gms.NewTransport(), gms.NewFastClient(nil)
	client, err := gms.New(gms.Options{Transport: transport, Fast: gms.FixedFast{Client: fast}, Settings: gms.Settings{
		ServiceURL:  "http://" + cfg.simAddr,
		ServiceName: serviceName,
		Timeout:     10 * time.Second,
		Retry:       gms.RetryPolicy{MaxAttempts: 5, InitialDelay: 4200 * time.Millisecond, Multiplier: 2},
	}})
	if err != nil {
		return nil, err
	}
	opts := chat.Options{
		GMS: countingGMS{Client: client, meter: m},
		Settings: chat.Settings{
			Domain:                "bench",
			PollInterval:          pollInterval,
			EscalationTimeout:     time.Hour,
			AvailabilityRefresh:   time.Hour,
			Agents:                benchAgents(totalChats(cfg, cfg.child)),
			MaxChatsPerAgent:      chatsPerAgent,
			SupportPresentContent: true,
			AgentOverride:         chatv1alpha1.AgentOverrideAgentNameOnly,
			Locale:                "en-US",
		},
		Log:      logr.Discard(),
		IDPrefix: "0",
		PollDeferred: func() {
			if m.measuring.Load() {
				m.deferred.Add(1)
			}
		},
		PollLateness: func(d time.Duration) {
			if m.baseline.Load() {
				m.basePolls.Add(1)
			}
			if m.measuring.Load() {
				m.polls.Add(1)
				m.lateness.record(d)
			}
		},
	}
	if with != nil {
		with(&opts)
	}
	mgr := chat.NewManager(opts)
	go func() { _ = mgr.Run(ctx) }()
	return &runnerSide{
		m:         mgr,
		transport: transport,
		fast:      fast,
		meter:     m,
		ids:       make([]string, cfg.chats),
		busy:      make([]atomic.Bool, cfg.chats),
		after:     make([]int64, cfg.chats),
	}, nil
}

// chatsPerAgent is the engine's runner.maxChatsPerAgent in the bench.
const chatsPerAgent = 1000

// benchAgents is the engine's agents in the bench: enough for chats, 3 at least (the
// CRD's default agentsPerNode).
func benchAgents(chats int) int { return max(3, (chats+chatsPerAgent-1)/chatsPerAgent) }

// escalate starts chat i and returns its id.
func (r *runnerSide) escalate(ctx context.Context, i int) (string, error) {
	n := strconv.Itoa(i)
	v, _, err := r.m.Escalate(ctx, chat.Escalation{
		ConversationID: "conversation-" + n,
		Domain:         "bench",
		User:           chat.User{FirstName: "User", LastName: n, Email: "user" + n + "@example.com"},
		Subject:        "bench",
		Attributes:     map[string]string{"bench": "true"},
		Locale:         "en-US",
	})
	return v.ID, err
}

// open starts chat i as a bot would: an escalation refused with a Retry-After (the
// runner full, behind its polls, or its store not written) is tried again after it, up
// to escalateTries times.
func (r *runnerSide) open(ctx context.Context, i int) {
	for try := 1; ; try++ {
		id, err := r.escalate(ctx, i)
		if err == nil {
			r.ids[i] = id
			return
		}
		var capErr *chat.CapacityError
		var storeErr *chat.StoreError
		wait := time.Second
		switch {
		case errors.As(err, &capErr):
			wait = capErr.RetryAfter
		case errors.As(err, &storeErr):
		default:
			try = escalateTries
		}
		if try >= escalateTries {
			logf("runner: escalation %d refused (%d tries): %v", i, try, err)
			return
		}
		r.refusals.Add(1)
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

func (r *runnerSide) established() (ids []string, failed, pending int) {
	for _, id := range r.ids {
		if id == "" {
			failed++
			continue
		}
		v, err := r.m.Get(id)
		switch {
		case err != nil:
			failed++
		case v.State == chatv1alpha1.ChatRequesting:
			pending++
		case v.State == chatv1alpha1.ChatWaitingForAgent || v.State == chatv1alpha1.ChatConnected:
			ids = append(ids, v.GenesysChatID)
		default:
			failed++
		}
	}
	return ids, failed, pending
}

func (r *runnerSide) connected() int {
	n := 0
	for _, id := range r.ids {
		if v, err := r.m.Get(id); err == nil && v.State == chatv1alpha1.ChatConnected {
			n++
		}
	}
	return n
}

func (r *runnerSide) closeIdle() {
	r.transport.CloseIdleConnections()
	r.fast.CloseIdleConnections()
}

func (r *runnerSide) pollLoad() chat.PollLoad { return r.m.PollLoad() }

func (r *runnerSide) probe(ctx context.Context, i int, send func(string)) bool {
	id := r.ids[i]
	if id == "" {
		return false
	}
	v, err := r.m.Get(id)
	if err != nil || v.State != chatv1alpha1.ChatConnected || !r.busy[i].CompareAndSwap(false, true) {
		return false
	}
	go func() {
		defer r.busy[i].Store(false)
		// Catch up on the chat's events, so that the next one of kind message is the probe's.
		for {
			evs, err := r.m.Events(ctx, id, r.after[i], 0)
			if err != nil || ctx.Err() != nil {
				return
			}
			if len(evs) == 0 {
				break
			}
			r.after[i] = evs[len(evs)-1].Seq
		}
		send(v.GenesysChatID)
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		for {
			// The bot's long poll, as the escalation API serves it.
			evs, err := r.m.Events(ctx, id, r.after[i], 30*time.Second)
			if err != nil {
				return
			}
			now := time.Now()
			for _, e := range evs {
				r.after[i] = e.Seq
				if e.Kind != chat.KindMessage {
					continue
				}
				if sent, ok := parseSent(e.Text); ok && r.meter.measuring.Load() {
					r.meter.message.record(now.Sub(sent))
				}
				return
			}
			if ctx.Err() != nil {
				if r.meter.measuring.Load() && ctx.Err() == context.DeadlineExceeded {
					r.meter.lost.Add(1)
				}
				return
			}
		}
	}()
	return true
}
