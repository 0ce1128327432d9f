package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
)

// extras is the parent's part of a side beyond its process: for the runner and overload
// modes, what the engine carries besides polling (-runner-with: the durable store's
// control plane, the webhook receiver); for every side, the simulator's request gaps and
// idle ends over the window.
type extras struct {
	args []string // the child's arguments
	desc string   // what the engine carried, for the report
	cp   *controlPlane
	hook *receiver

	api0, apiCPU time.Duration
	sim          *gmssim.Stats
	simErr       error
}

// startExtras sets up what -runner-with asks for a runner or overload side.
func startExtras(ctx context.Context, cfg config, mode string) (*extras, error) {
	x := &extras{}
	if mode != modeRunner && mode != modeOverload {
		return x, nil
	}
	parts := []string{"polling"}
	for _, w := range strings.Split(cfg.runnerWith, ",") {
		switch w = strings.TrimSpace(w); w {
		case "":
		case "store":
			if why := assetsMissing(cfg.assets); why != "" {
				parts = append(parts, "no store ("+why+")")
				continue
			}
			cp, err := startControlPlane(ctx, cfg, totalChats(cfg, mode))
			if err != nil {
				x.stop()
				return nil, err
			}
			x.cp = cp
			x.args = append(x.args, "-kubeconfig", cp.kubeconfig)
			parts = append(parts, fmt.Sprintf("every chat's durable record (%d store shards on kube-apiserver and etcd, at nice %d)", cp.shards, controlPlaneNice))
		case "webhook":
			hook, err := startReceiver()
			if err != nil {
				x.stop()
				return nil, fmt.Errorf("starting the webhook receiver: %w", err)
			}
			x.hook = hook
			x.args = append(x.args, "-webhook-url", hook.url)
			parts = append(parts, "webhook delivery of every event")
		default:
			x.stop()
			return nil, fmt.Errorf("-runner-with: %q is neither store nor webhook", w)
		}
	}
	x.desc = strings.Join(parts, ", ")
	return x, nil
}

// totalChats is the most chats a side carries: -chats, and for the overload mode the
// escalations it offers in its window.
func totalChats(cfg config, mode string) int {
	if mode != modeOverload {
		return cfg.chats
	}
	return cfg.chats + int(cfg.overloadRate*cfg.duration.Seconds())
}

func (x *extras) windowStarted(ctx context.Context, simAddr string) {
	x.simErr = gmssim.NewControlClient("http://"+simAddr, nil).ResetStats(ctx)
	if x.cp != nil {
		x.cp.background()
		x.api0 = controlPlaneCPU()
	}
	if x.hook != nil {
		x.hook.measuring.Store(true)
	}
}

func (x *extras) windowEnded(ctx context.Context, simAddr string) {
	if x.hook != nil {
		x.hook.measuring.Store(false)
	}
	if x.cp != nil {
		x.apiCPU = controlPlaneCPU() - x.api0
	}
	if x.simErr == nil {
		st, err := gmssim.NewControlClient("http://"+simAddr, nil).Stats(ctx)
		x.sim, x.simErr = &st, err
	}
	if x.simErr != nil {
		logf("reading the simulator's stats: %v", x.simErr)
		x.sim = nil
	}
}

// fill adds the parent's figures to the side's result.
func (x *extras) fill(r *result) {
	r.Extras, r.Sim, r.APICPU = x.desc, x.sim, x.apiCPU
	if x.hook != nil {
		r.HookArrived, r.HookDuplicates = x.hook.arrived.Load(), x.hook.dups.Load()
	}
}

func (x *extras) stop() {
	if x.hook != nil {
		x.hook.stop()
	}
	if x.cp != nil {
		x.cp.stop()
	}
}

// runnerExtras is the engine's part of the extras in its process: the store it writes
// every chat's record to, and the webhook Deliverer.
type runnerExtras struct {
	st    *store.Store
	hooks *webhookMeter
	w0    store.Stats
}

// newRunnerExtras opens and loads the store when the parent gave a kubeconfig, with the
// runner's own client rate limits.
func newRunnerExtras(ctx context.Context, cfg config) (*runnerExtras, error) {
	x := &runnerExtras{}
	if cfg.kubeconfig == "" {
		return x, nil
	}
	c := cfg
	c.storeQPS = chatrunner.APIQPS
	kube, _, err := storeClient(c)
	if err != nil {
		return nil, err
	}
	x.st = store.New(store.Options{Client: kube, Gateway: storeGateway(), Log: logr.Discard()})
	go func() { _ = x.st.Run(ctx) }()
	if _, err := x.st.Load(ctx, storeOrdinal); err != nil {
		return nil, fmt.Errorf("loading the empty store: %w", err)
	}
	return x, nil
}

// options gives the engine the store.
func (x *runnerExtras) options(o *chat.Options) {
	if x.st != nil {
		o.Store, o.Ordinal, o.IDPrefix = x.st, storeOrdinal, escalation.ChatIDPrefix(storeOrdinal)
	}
}

// start runs the webhook Deliverer when the parent gave a receiver.
func (x *runnerExtras) start(ctx context.Context, cfg config, r *runnerSide, m *meter) {
	if cfg.webhookURL == "" {
		return
	}
	x.hooks = &webhookMeter{m: m}
	on := &atomic.Bool{}
	on.Store(true)
	startDeliverer(ctx, cfg, r, x.hooks, on)
}

func (x *runnerExtras) windowStarted() {
	if x.st != nil {
		x.w0 = x.st.Stats()
	}
}

func (x *runnerExtras) windowEnded(res *result) {
	if x.st != nil {
		w1 := x.st.Stats()
		res.StoreWrites, res.StoreWriteErrors, res.StoredChats = w1.Writes-x.w0.Writes, w1.WriteErrors-x.w0.WriteErrors, w1.Records
	}
	if x.hooks != nil {
		res.Delivered, res.DeliveryFailed, res.DeliveryRetried = x.hooks.delivered.Load(), x.hooks.failed.Load(), x.hooks.retried.Load()
	}
}
