package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// The store mode's engines: the first carries the chats on ordinal storeOrdinal's store
// and is killed; the second, of ordinal storeOrdinal+1, adopts them.
const (
	storeOrdinal  = 0
	phaseFirst    = "first"
	phaseResume   = "resume"
	lineResumed   = "RESUMED" // the second engine re-derived every chat's events
	storeQuiesce  = 3 * time.Second
	resumeTimeout = 2 * time.Minute
	escalateTries = 3
)

// storeGateway is the gateway whose store the bench writes (only its name and namespace
// matter).
func storeGateway() *chatv1alpha1.GenesysGateway {
	gw := &chatv1alpha1.GenesysGateway{}
	gw.Namespace, gw.Name = "bench", "bench"
	return gw
}

// storeResult is what the store mode's engines report, as JSON.
type storeResult struct {
	// The first engine.
	Chats   int   `json:"chats"`
	Ready   int   `json:"ready"`
	Refused int64 `json:"refused"` // escalations refused (retried, as a bot does)
	// RefusedWhy is the error of the first refused escalation.
	RefusedWhy string        `json:"refusedWhy,omitempty"`
	Failed     int           `json:"failed"` // chats that could not be started
	Ramp       time.Duration `json:"ramp"`   // every chat established (group commits included)
	Window     time.Duration `json:"window"`
	Polls      int64         `json:"polls"`
	PollErrs   int64         `json:"pollErrors"`
	Messages   int64         `json:"messages"` // agent messages asked for in the window
	CPU        time.Duration `json:"cpu"`
	Writes     int64         `json:"writes"`      // store patches that succeeded, in the window
	WriteErrs  int64         `json:"writeErrors"` // store patches that failed, in the window
	PatchSize  int64         `json:"patchBytes"`  // the patches' bodies, in the window
	Requests   int64         `json:"requests"`    // every API request of the engine, in the window
	ReqBytes   int64         `json:"requestBytes"`
	Records    int           `json:"records"`
	// MessagesFailed is set by the parent: agent messages it could not post.
	MessagesFailed int64 `json:"-"`
	// The second engine.
	Loaded      int           `json:"loaded"`
	Corrupt     int           `json:"corrupt"`
	Shards      int           `json:"shards"`
	Load        time.Duration `json:"load"`
	Resume      time.Duration `json:"resume"`     // Manager.Resume itself
	Derived     time.Duration `json:"derived"`    // from the start of Load to every chat re-derived
	Resumed     int           `json:"resumed"`    // chats Resume took
	ResumeFails int           `json:"resumeFail"` // chats Resume failed
	Missing     int           `json:"missing"`    // chats not re-derived within resumeTimeout
	Seams       int64         `json:"seams"`
	LoadGets    int64         `json:"loadGets"` // API requests of Load
}

// apiCounter counts the API requests of a client and their bodies.
type apiCounter struct {
	requests, bytes, patches atomic.Int64
}

type countingTransport struct {
	next http.RoundTripper
	c    *apiCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.requests.Add(1)
	if req.ContentLength > 0 {
		t.c.bytes.Add(req.ContentLength)
	}
	if req.Method == http.MethodPatch {
		t.c.patches.Add(1)
	}
	return t.next.RoundTrip(req)
}

// storeClient is a controller-runtime client as the runner builds one (from a kubeconfig,
// client-go's rate limits unless -store-qps), counting its requests.
func storeClient(cfg config) (client.Client, *apiCounter, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	if cfg.storeQPS > 0 {
		rc.QPS, rc.Burst = float32(cfg.storeQPS), int(2*cfg.storeQPS)
	}
	c := &apiCounter{}
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, c: c} }
	kube, err := client.New(rest.CopyConfig(rc), client.Options{Scheme: scheme.New()})
	return kube, c, err
}

// runStoreChild runs one engine of the store mode.
func runStoreChild(ctx context.Context, cfg config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lines{w: bufio.NewWriter(os.Stdout)}
	kube, api, err := storeClient(cfg)
	if err != nil {
		return err
	}
	st := store.New(store.Options{Client: kube, Gateway: storeGateway(), Log: logr.Discard()})
	go func() { _ = st.Run(ctx) }()
	if cfg.storePhase == phaseResume {
		return runResume(ctx, cfg, out, st, api)
	}
	return runFirst(ctx, cfg, out, st, api)
}

// runFirst starts the chats on a store, has agents join and message them, measures the
// store's writes in the window, writes each chat's event count to -store-state, reports,
// and waits to be killed.
func runFirst(ctx context.Context, cfg config, out *lines, st *store.Store, api *apiCounter) error {
	if _, err := st.Load(ctx, storeOrdinal); err != nil {
		return fmt.Errorf("loading the empty store: %w", err)
	}
	m := &meter{}
	r, err := newRunnerSide(ctx, cfg, m, func(o *chat.Options) {
		o.Store, o.Ordinal, o.IDPrefix = st, storeOrdinal, escalation.ChatIDPrefix(storeOrdinal)
	})
	if err != nil {
		return err
	}
	res := &storeResult{Chats: cfg.chats}
	logf("store: starting %d chats at %.0f/s", cfg.chats, cfg.rampRate)
	begin := time.Now()
	// The bots' escalations run concurrently (each waits for its shard's group commit); a
	// refused one is retried after a second, as a bot would.
	var refused atomic.Int64
	var why sync.Once
	var opening sync.WaitGroup
	rampUp(ctx, cfg.chats, cfg.rampRate, func(i int) {
		opening.Go(func() {
			for try := 0; try < escalateTries && ctx.Err() == nil; try++ {
				id, err := r.escalate(ctx, i)
				if err == nil {
					r.ids[i] = id
					return
				}
				why.Do(func() { res.RefusedWhy = err.Error() })
				refused.Add(1)
				_ = sleep(ctx, time.Second)
			}
		})
	})
	opening.Wait()
	res.Refused = refused.Load()
	var ids []string
	for deadline := time.Now().Add(5 * time.Minute); ; {
		var failed, pending int
		ids, failed, pending = r.established()
		if pending == 0 {
			res.Failed = failed
			break
		}
		if time.Now().After(deadline) || sleep(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("%d chats still requesting", pending)
		}
	}
	res.Ramp = time.Since(begin)
	logf("store: %d chats established in %v (%d escalations refused and retried); agents joining", len(ids), res.Ramp.Round(time.Millisecond), res.Refused)
	if err := joinAgents(ctx, cfg.simAddr, ids); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); r.connected() < len(ids); {
		if time.Now().After(deadline) || sleep(ctx, 100*time.Millisecond) != nil {
			break
		}
	}
	res.Ready = r.connected()

	// Agent messages from the warm-up on, so that the window is steady.
	msgCtx, stopMessages := context.WithCancel(ctx)
	var messaging sync.WaitGroup
	var sent atomic.Int64
	messaging.Go(func() { sendMessages(msgCtx, ids, cfg.storeMessageEvery, out, &sent) })
	logf("store: %d chats connected; warming up %v with a message per chat every %v", res.Ready, cfg.warmup, cfg.storeMessageEvery)
	if err := sleep(ctx, cfg.warmup); err != nil {
		stopMessages()
		return err
	}
	logf("store: measuring for %v", cfg.duration)
	st0, req0, bytes0, sent0 := st.Stats(), api.requests.Load(), api.bytes.Load(), sent.Load()
	cpu0 := cpuTime()
	start := time.Now()
	m.measuring.Store(true)
	out.send(lineWindowStart)
	err = sleep(ctx, cfg.duration)
	m.measuring.Store(false)
	res.Window = time.Since(start)
	res.CPU = cpuTime() - cpu0
	st1 := st.Stats()
	res.Writes, res.WriteErrs = st1.Writes-st0.Writes, st1.WriteErrors-st0.WriteErrors
	res.Requests, res.ReqBytes = api.requests.Load()-req0, api.bytes.Load()-bytes0
	res.PatchSize = res.ReqBytes // the engine's only requests with a body are the patches
	res.Messages = sent.Load() - sent0
	out.send(lineWindowEnd)
	stopMessages()
	messaging.Wait()
	if err != nil {
		return err
	}
	res.Polls, res.PollErrs = m.polls.Load(), m.pollErrors.Load()

	// Let the last messages be polled, then note each chat's events: the second engine
	// must derive as many.
	if err := sleep(ctx, storeQuiesce); err != nil {
		return err
	}
	counts := map[string]int64{}
	for _, id := range r.ids {
		if id == "" {
			continue
		}
		var last int64
		for {
			evs, err := r.m.Events(ctx, id, last, 0)
			if err != nil || len(evs) == 0 {
				break
			}
			last = evs[len(evs)-1].Seq
		}
		counts[id] = last
	}
	b, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.storeState, b, 0o600); err != nil {
		return err
	}
	res.Records = st.Stats().Records
	b, err = json.Marshal(res)
	if err != nil {
		return err
	}
	out.send(lineResult + string(b))
	<-ctx.Done() // the parent kills this process: no Release, no Flush
	return nil
}

// sendMessages asks the parent for agent messages, one per chat every interval, round
// robin, spread evenly (paced by the clock, so a late tick catches up).
func sendMessages(ctx context.Context, ids []string, every time.Duration, out *lines, sent *atomic.Int64) {
	if len(ids) == 0 || every <= 0 {
		return
	}
	rate := float64(len(ids)) / every.Seconds()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start, n, next := time.Now(), int64(0), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for due := int64(time.Since(start).Seconds() * rate); n < due; n++ {
			out.send(lineMessage + ids[next])
			next = (next + 1) % len(ids)
			sent.Add(1)
		}
	}
}

// runResume is the engine that adopts the killed one's chats: Load, Resume, and wait
// until every chat has as many events as it had.
func runResume(ctx context.Context, cfg config, out *lines, st *store.Store, api *apiCounter) error {
	b, err := os.ReadFile(cfg.storeState)
	if err != nil {
		return err
	}
	var want map[string]int64
	if err := json.Unmarshal(b, &want); err != nil {
		return err
	}
	m := &meter{}
	r, err := newRunnerSide(ctx, cfg, m, func(o *chat.Options) {
		o.Store, o.Ordinal, o.IDPrefix = st, storeOrdinal+1, escalation.ChatIDPrefix(storeOrdinal+1)
	})
	if err != nil {
		return err
	}
	// Escalate waits for the engine to run: a cheap way to know it does.
	if err := waitRunning(ctx, r.m); err != nil {
		return err
	}
	res := &storeResult{}
	req0 := api.requests.Load()
	start := time.Now()
	loaded, err := st.Load(ctx, storeOrdinal)
	if err != nil {
		return fmt.Errorf("loading the store: %w", err)
	}
	res.Load = time.Since(start)
	res.LoadGets = api.requests.Load() - req0
	res.Loaded, res.Corrupt, res.Shards = len(loaded.Records), len(loaded.Corrupt), loaded.Shards
	stored := make([]chat.Stored, 0, len(loaded.Records))
	for _, rec := range loaded.Records {
		stored = append(stored, chat.Stored{Shard: rec.Shard, Record: rec.Record})
	}
	t := time.Now()
	res.Resumed, res.ResumeFails = r.m.Resume(storeOrdinal, stored)
	res.Resume = time.Since(t)

	pending := make([]string, 0, len(want))
	for id := range want {
		pending = append(pending, id)
	}
	deadline := start.Add(resumeTimeout)
	for len(pending) > 0 && time.Now().Before(deadline) {
		left := pending[:0]
		for _, id := range pending {
			evs, err := r.m.Events(ctx, id, want[id]-1, 0)
			if err != nil || len(evs) == 0 {
				left = append(left, id)
			}
		}
		pending = left
		if len(pending) > 0 && sleep(ctx, 10*time.Millisecond) != nil {
			return ctx.Err()
		}
	}
	res.Derived = time.Since(start)
	res.Missing = len(pending)
	res.Seams = r.m.Handover().Seams
	out.send(lineResumed)
	b, err = json.Marshal(res)
	if err != nil {
		return err
	}
	out.send(lineResult + string(b))
	return nil
}

// waitRunning returns once the engine's Run has started.
func waitRunning(ctx context.Context, m *chat.Manager) error {
	// An escalation of an invalid conversation fails validation right after the engine
	// runs, and starts nothing.
	if _, _, err := m.Escalate(ctx, chat.Escalation{}); err == nil {
		return fmt.Errorf("the engine took an empty escalation")
	}
	return ctx.Err()
}
