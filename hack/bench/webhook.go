package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
)

// modeWebhook is the side carrying the chats on the engine with webhook delivery
// (chatrunner/webhook, wired as the runner wires it) to a receiver in the parent, while
// the agents send messages at a steady rate; no bot polls.
const modeWebhook = "webhook"

// Timing of the webhook mode around its window: the agents' messages start webhookLead
// before it (so that the window sees a steady flow), and the engine keeps delivering for
// webhookDrain after it, so that the messages posted late in the window arrive.
const (
	webhookLead  = 3 * time.Second
	webhookDrain = 5 * time.Second
)

// webhookResult is what the webhook child measured in its window.
type webhookResult struct {
	Delivered int64 `json:"delivered"` // deliveries taken by the receiver (the Deliverer's count)
	Failed    int64 `json:"failed"`
	Retried   int64 `json:"retried"`
	Messages  int64 `json:"messages"` // agent messages asked for in the window
	// Set by the parent (its receiver).
	Arrived    int64   `json:"-"` // deliveries that arrived in the window
	Duplicates int64   `json:"-"` // deliveries of a webhook-id already seen (any time)
	Latency    summary `json:"-"` // agent message posted → its delivery arrived
	Posted     int64   `json:"-"` // agent messages posted in the window
	Seen       int64   `json:"-"` // of those, delivered (within the drain)
	// The baseline window: the same engine, polls and agent messages, the Deliverer
	// running with the webhook unset (it reads the logs and sends nothing).
	BaseWindow    time.Duration `json:"baseWindow"`
	BaseCPU       time.Duration `json:"baseCPU"`
	BasePolls     int64         `json:"basePolls"`
	BaseAllocated uint64        `json:"baseAllocated"`
	// PollCPU is the runner mode's CPU per poll of the same run, 0 when it did not run.
	PollCPU time.Duration `json:"-"`
	// PollAlloc is the runner mode's heap bytes allocated per poll, 0 when it did not run.
	PollAlloc float64 `json:"-"`
}

// webhookMeter counts the Deliverer's outcomes in the window (its Observer).
type webhookMeter struct {
	m                          *meter
	delivered, failed, retried atomic.Int64
}

func (w *webhookMeter) WebhookDelivered() {
	if w.m.measuring.Load() {
		w.delivered.Add(1)
	}
}

func (w *webhookMeter) WebhookFailed() {
	if w.m.measuring.Load() {
		w.failed.Add(1)
	}
}

func (w *webhookMeter) WebhookRetried() {
	if w.m.measuring.Load() {
		w.retried.Add(1)
	}
}

// startDeliverer runs the runner's webhook Deliverer on the engine with its defaults
// (interval, back-off, concurrency, HTTP client), signing with a random key; while on is
// false the webhook is unset (webhook.ErrDisabled), as on a gateway without one.
func startDeliverer(ctx context.Context, cfg config, r *runnerSide, wm *webhookMeter, on *atomic.Bool) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	d := webhook.New(webhook.Options{
		Source: r.m.Webhooks(),
		Config: func() (webhook.Config, error) {
			if !on.Load() {
				return webhook.Config{}, webhook.ErrDisabled
			}
			return webhook.Config{URL: cfg.webhookURL, Keys: [][]byte{key}, Timeout: 5 * time.Second}, nil
		},
		Observer: wm,
		Log:      logr.Discard(),
	})
	go d.Run(ctx)
}

// webhookBaseline measures the baseline window (cfg.webhookBaseline, after webhookLead of
// messages), then sets the webhook and waits webhookLead for the deliveries to flow.
func webhookBaseline(ctx context.Context, cfg config, m *meter, on *atomic.Bool) (*webhookResult, error) {
	if err := sleep(ctx, webhookLead); err != nil {
		return nil, err
	}
	b := &webhookResult{}
	if cfg.webhookBaseline > 0 {
		logf("%s: baseline (webhook unset) for %v", cfg.child, cfg.webhookBaseline)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0, start := cpuTime(), time.Now()
		m.baseline.Store(true)
		err := sleep(ctx, cfg.webhookBaseline)
		m.baseline.Store(false)
		b.BaseWindow, b.BaseCPU, b.BasePolls = time.Since(start), cpuTime()-cpu0, m.basePolls.Load()
		runtime.ReadMemStats(&ms1)
		b.BaseAllocated = ms1.TotalAlloc - ms0.TotalAlloc
		if err != nil {
			return nil, err
		}
	}
	on.Store(true)
	return b, sleep(ctx, webhookLead)
}

// runMessages has an agent message posted (by the parent) to each connected chat once
// every cfg.webhookMessageEvery, spread evenly, until ctx ends; counted while measuring.
func runMessages(ctx context.Context, r *runnerSide, cfg config, m *meter, counted *atomic.Int64, out *lines) {
	var ids []string
	for _, id := range r.ids {
		if v, err := r.m.Get(id); err == nil && v.GenesysChatID != "" {
			ids = append(ids, v.GenesysChatID)
		}
	}
	if len(ids) == 0 || cfg.webhookMessageEvery <= 0 {
		return
	}
	rate := float64(len(ids)) / cfg.webhookMessageEvery.Seconds()
	start := time.Now()
	for k := 0; ; k++ {
		at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		if d := time.Until(at); d > time.Millisecond {
			if sleep(ctx, d) != nil {
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		out.send(lineMessage + ids[k%len(ids)])
		if m.measuring.Load() {
			counted.Add(1)
		}
	}
}

// receiver is the bot's webhook endpoint in the parent: it verifies nothing, records the
// arrival of each webhook-id and, for an agent message of the bench (text: its post time
// in Unix nanoseconds), the post and arrival times; it answers 204.
type receiver struct {
	srv *http.Server
	url string

	measuring atomic.Bool
	arrived   atomic.Int64
	dups      atomic.Int64

	mu       sync.Mutex
	seen     map[string]struct{}
	messages []arrival
}

type arrival struct{ sent, at time.Time }

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{seen: map[string]struct{}{}, url: "http://" + ln.Addr().String() + "/events"}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id := r.Header.Get(webhook.HeaderID)
	if rc.measuring.Load() {
		rc.arrived.Add(1)
	}
	var p struct {
		Event struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"event"`
	}
	_ = json.Unmarshal(body, &p)
	rc.mu.Lock()
	if _, dup := rc.seen[id]; dup {
		rc.dups.Add(1)
	} else {
		rc.seen[id] = struct{}{}
		if p.Event.Kind == chat.KindMessage {
			if sent, ok := parseSent(p.Event.Text); ok {
				rc.messages = append(rc.messages, arrival{sent: sent, at: at})
			}
		}
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rc.srv.Shutdown(ctx)
}

// fill sets the receiver's figures of the window [from, to] (the parent's clock): the
// latency of each agent message posted in it.
func (rc *receiver) fill(wr *webhookResult, from, to time.Time, posted int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var h hist
	for _, a := range rc.messages {
		if a.sent.Before(from) || a.sent.After(to) {
			continue
		}
		h.record(a.at.Sub(a.sent))
	}
	wr.Arrived, wr.Duplicates, wr.Posted = rc.arrived.Load(), rc.dups.Load(), posted
	wr.Latency = h.summary()
	wr.Seen = int64(wr.Latency.Count)
}

// printWebhook writes the webhook mode's table.
func printWebhook(w io.Writer, cfg config, r *result) {
	wr := r.Webhook
	if wr == nil {
		return
	}
	secs := r.Window.Seconds()
	fmt.Fprintf(w, "Webhook delivery (chatrunner/webhook as the runner wires it: 250 ms feed interval, 32 attempts in flight, "+
		"its default HTTP client) to a plain net/http receiver in the bench parent (answers 204, verifies nothing); "+
		"%d chats connected, polled every second, one agent message per chat every %v (%.0f/s), no bot polling:\n\n",
		r.Ready, cfg.webhookMessageEvery, float64(r.Ready)/cfg.webhookMessageEvery.Seconds())
	fmt.Fprintln(w, "| webhook | |")
	fmt.Fprintln(w, "|---|--:|")
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "| %s | %s |\n", name, fmt.Sprintf(format, args...))
	}
	row("events delivered/s (runner's count; receiver's)", "%.0f; %.0f", float64(wr.Delivered)/secs, float64(wr.Arrived)/secs)
	row("deliveries failed / retried / duplicate webhook-ids", "%d / %d / %d", wr.Failed, wr.Retried, wr.Duplicates)
	row("agent message posted → webhook arrived p50 / p99 / max", "%s", triple(wr.Latency))
	row("agent messages delivered / posted in the window", "%d / %d", wr.Seen, wr.Posted)
	row("polls/s, failed", "%.0f, %d", float64(r.Polls)/secs, r.PollErrors)
	row("engine process CPU (cores)", "%.3f", r.CPU.Seconds()/secs)
	if wr.BaseWindow > 0 {
		row("engine process CPU in the baseline window, webhook unset (cores; polls/s)", "%.3f; %.0f",
			wr.BaseCPU.Seconds()/wr.BaseWindow.Seconds(), float64(wr.BasePolls)/wr.BaseWindow.Seconds())
	}
	if wr.Delivered > 0 {
		row("engine CPU per delivered event, polling included", "%s", dur(r.CPU/time.Duration(wr.Delivered)))
		if wr.BaseWindow > 0 && wr.BasePolls > 0 {
			perPoll := wr.BaseCPU / time.Duration(wr.BasePolls)
			net := r.CPU - time.Duration(r.Polls)*perPoll
			row("engine CPU per delivered event, polling subtracted (baseline window's CPU per poll × polls)", "%s (%s per poll with messages, webhook unset)",
				dur(max(net, 0)/time.Duration(wr.Delivered)), dur(perPoll))
		}
		if wr.PollCPU > 0 {
			net := r.CPU - time.Duration(r.Polls)*wr.PollCPU
			row("engine CPU per delivered event, polling subtracted (runner mode's CPU per poll × polls)", "%s (%s per poll subtracted)",
				dur(max(net, 0)/time.Duration(wr.Delivered)), dur(wr.PollCPU))
		}
	}
	row("heap allocated per delivered event, polling included", "%s", perEvent(float64(r.Allocated), wr.Delivered))
	if wr.BaseWindow > 0 && wr.BasePolls > 0 {
		perPoll := float64(wr.BaseAllocated) / float64(wr.BasePolls)
		row("heap allocated per delivered event, polling subtracted (baseline)", "%s",
			perEvent(max(float64(r.Allocated)-float64(r.Polls)*perPoll, 0), wr.Delivered))
	}
	if wr.PollAlloc > 0 {
		row("heap allocated per delivered event, polling subtracted", "%s",
			perEvent(max(float64(r.Allocated)-float64(r.Polls)*wr.PollAlloc, 0), wr.Delivered))
	}
	row("goroutines / open files at the end", "%d / %d", r.Goroutines, r.OpenFiles)
	if r.SimCPU > 0 {
		row("simulator CPU (cores, its own process)", "%.3f", r.SimCPU.Seconds()/secs)
	}
	if r.MachineCPU > 0 {
		row("whole machine CPU busy (cores, all processes, the receiver included)", "%.2f", r.MachineCPU.Seconds()/secs)
	}
	if r.Ready < r.Chats {
		fmt.Fprintf(w, "\nOnly %d of %d chats were connected when the window started.\n", r.Ready, r.Chats)
	}
	fmt.Fprintln(w)
}

func perEvent(total float64, n int64) string {
	if n <= 0 {
		return "n/a"
	}
	return size(total / float64(n))
}

// pollCostOf is the CPU and heap bytes per poll of the runner mode among results, 0
// without one.
func pollCostOf(rs []*result) (time.Duration, float64) {
	for _, r := range rs {
		if r.Mode == modeRunner && r.Polls > 0 {
			return cpuPerPoll(r), float64(r.Allocated) / float64(r.Polls)
		}
	}
	return 0, 0
}
