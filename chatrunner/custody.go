package chatrunner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/metrics"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/ownership"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/report"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// flushTimeout bounds the final write of a store on a graceful release: the pod's
// terminationGracePeriodSeconds (30 s) leaves room for it and the Lease release.
const flushTimeout = 10 * time.Second

// custody joins the three parts of a chat's durability: the Lease manager decides which
// stores this runner owns, the store reads and writes their records, the engine carries
// their chats. It is the only place that calls all three.
type custody struct {
	engine *chat.Manager
	store  *store.Store
	leases *ownership.Manager
	events *report.Events
	pod    string
	self   int
	log    logr.Logger
	// gateway returns the gateway as the runner knows it now: its stores.
	gateway func() *chatv1alpha1.GenesysGateway

	// mu guards loaded: the stores this runner holds whose chats it has resumed. Until a
	// held store is loaded, the runner cannot say which conversations it carries, and its
	// own store is where its new chats go.
	mu     sync.Mutex
	loaded map[int]bool
}

// setLoaded records that a store's chats are resumed here (or no longer).
func (c *custody) setLoaded(ordinal int, loaded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded == nil {
		c.loaded = map[int]bool{}
	}
	if loaded {
		c.loaded[ordinal] = true
	} else {
		delete(c.loaded, ordinal)
	}
}

func (c *custody) isLoaded(ordinal int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded[ordinal]
}

// acquired loads a store this runner now owns and resumes its chats: its own after a
// restart, or another runner's (adopted). Loading is retried while the ownership lasts:
// the API server may be away for a moment.
func (c *custody) acquired(ctx context.Context, ordinal int) {
	var loaded store.Loaded
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 20, Cap: 5 * time.Second}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		var err error
		loaded, err = c.store.Load(ctx, ordinal)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrLoaded):
			return true, nil
		case errors.Is(err, store.ErrNoStore):
			c.log.Info("Found no chat store yet: the operator creates it", "store", ordinal)
		default:
			c.log.Info("Could not load chat store: retrying", "store", ordinal, "error", err.Error())
		}
		return false, nil
	})
	if err != nil {
		return // the ownership ended first
	}
	for _, bad := range loaded.Corrupt {
		c.log.Info("Skipped a chat record that cannot be resumed", "store", ordinal, "shard", bad.Shard, "key", bad.Key, "error", bad.Err.Error())
	}
	stored := make([]chat.Stored, 0, len(loaded.Records))
	for _, r := range loaded.Records {
		stored = append(stored, chat.Stored{Shard: r.Shard, Record: r.Record})
	}
	resumed, failed := c.engine.Resume(ordinal, stored)
	c.setLoaded(ordinal, true)
	c.log.Info("Took over chat store", "store", ordinal, "resumed", resumed, "failed", failed, "corrupt", len(loaded.Corrupt))
	if ordinal != c.self && resumed+failed > 0 {
		c.events.ChatsAdopted(c.pod, ordinal, resumed, failed)
	}
}

// release gives a store up gracefully: its chats leave the engine with their final
// records, which are written before the Lease goes.
func (c *custody) release(ctx context.Context, ordinal int) {
	c.setLoaded(ordinal, false)
	n := c.engine.Release(ordinal)
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if err := c.store.Flush(ctx, ordinal); err != nil {
		c.log.Error(err, "Could not write the final chat records: the successor resumes from the previous write", "store", ordinal, "chats", n)
	}
	c.store.Release(ordinal)
}

// lost stops touching a store's chats at once: this runner's Lease is gone (a partition),
// or another runner wrote the store.
func (c *custody) lost(ordinal int) {
	c.setLoaded(ordinal, false)
	n := c.engine.Drop(ordinal)
	c.store.Drop(ordinal)
	c.log.Info("Lost chat store: stopped its chats", "store", ordinal, "chats", n)
}

// holder is the ordinal of the runner carrying a store's chats now; false while none
// does, or while it is this runner and it is still loading them.
func (c *custody) holder(storeOrdinal int) (int, bool) {
	pod, ok := c.leases.Owner(storeOrdinal)
	if !ok {
		return 0, false
	}
	k := ordinal(pod)
	if k == c.self && !c.isLoaded(storeOrdinal) {
		return 0, false
	}
	return k, true
}

// stores are the stores that may hold chats: those of the gateway (storeOrdinals) whose
// Lease has not vanished (the operator removes a store only once it is empty).
func (c *custody) stores() []int {
	return slices.DeleteFunc(storeOrdinals(c.gateway()), c.leases.Vanished)
}

// settled reports whether every store this runner holds is loaded.
func (c *custody) settled() bool {
	for _, k := range c.leases.Held() {
		if !c.isLoaded(k) {
			return false
		}
	}
	return true
}

// ownsOwn reports whether this runner holds its own store, loaded: until it does, it
// takes no new escalation (its new chats would have nowhere durable to go).
func (c *custody) ownsOwn() bool {
	return c.isLoaded(c.self) && slices.Contains(c.leases.Held(), c.self)
}

// status fills a runner's status entry with its custody figures.
func (c *custody) status(st *chatv1alpha1.RunnerStatus) {
	for _, k := range c.leases.Held() {
		st.OwnedStores = append(st.OwnedStores, int32(k))
	}
	stats := c.store.Stats()
	f := c.figuresOf(stats)
	st.ChatsResumed, st.ChatsAdopted, st.ChatsHandedOver = f.Resumed, f.Adopted, f.HandedOver
	st.StoredChats, st.StoreWrites = int32(f.StoredChats), f.StoreWrites
	st.StoreError = stats.LastError
}

// figures are the custody figures for metrics.
func (c *custody) figures() metrics.CustodyFigures { return c.figuresOf(c.store.Stats()) }

// figuresOf are the custody figures with the store's stats read once.
func (c *custody) figuresOf(st store.Stats) metrics.CustodyFigures {
	h := c.engine.Handover()
	return metrics.CustodyFigures{
		StoredChats: st.Records, OwnedStores: len(c.leases.Held()),
		StoreWrites: st.Writes, StoreWriteErrors: st.WriteErrors,
		Resumed: h.Resumed, Adopted: h.Adopted, HandedOver: h.HandedOver, Seams: h.Seams,
	}
}

// storeOrdinals are the ordinals that have a chat store, for the Lease manager: those of
// status.chatStores, and every ordinal below spec.runner.replicas, for which the operator
// keeps a store. The runner's snapshot of its gateway is taken on spec changes, not on
// status changes, so its status.chatStores may predate a scale-up: a peer that relied on
// it alone would never watch the new ordinals' Leases and would answer 503 for their
// chats (and for the conversations that hash onto them) until the next spec change.
func storeOrdinals(gw *chatv1alpha1.GenesysGateway) []int {
	out := make([]int, 0, len(gw.Status.ChatStores))
	for k := range int(gateway.Replicas(gw)) {
		out = append(out, k)
	}
	for _, s := range gw.Status.ChatStores {
		if k := int(s); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
