package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// The sides.
const (
	modeRunner = "runner"
	modeBare   = "bare"
)

// pollInterval is the interval of Refresh Chat per chat, on both sides.
const pollInterval = time.Second

// serviceName is the GMS chat service of the bench's chats.
const serviceName = "customer-support"

// memSettle is how long a side polls after its idle connections are closed before its
// memory is sampled: longer than the engine's poller reap period (2 s), so that the pool
// holds what steady polling needs.
const memSettle = 3 * time.Second

// probeTimeout is how long a probe waits for its agent message before counting it lost.
const probeTimeout = 10 * time.Second

// meter collects a side's measurements; only while measuring (the window).
type meter struct {
	measuring atomic.Bool
	polls     atomic.Int64 // polls started
	// baseline and basePolls: the polls of the webhook mode's baseline window.
	baseline   atomic.Bool
	basePolls  atomic.Int64
	pollErrors atomic.Int64 // polls that failed
	deferred   atomic.Int64 // turns deferred (the engine's PollDeferred)
	probes     atomic.Int64 // agent messages asked for
	lost       atomic.Int64 // agent messages not seen within probeTimeout
	lateness   hist         // poll start after its due time
	roundTrip  hist         // one Refresh Chat, request to decoded answer
	message    hist         // agent message posted to its event seen by the bot side
}

// side is one way of carrying the chats: the engine, or the bare loop.
type side interface {
	// open starts chat i (0 <= i < chats) without waiting for Genesys.
	open(ctx context.Context, i int)
	// established returns the Genesys chat ids of the chats established so far, and how
	// many chats failed and are still being requested.
	established() (ids []string, failed, pending int)
	// connected is the number of chats whose agent the side has seen join.
	connected() int
	// closeIdle closes the idle connections of the side's HTTP client.
	closeIdle()
	// probe starts a latency probe on chat i unless one is running there: it calls send
	// with the Genesys chat id to have the agent message posted, and records the latency.
	probe(ctx context.Context, i int, send func(chatID string)) bool
}

// result is a side's measurements, sent to the parent as JSON.
type result struct {
	Mode       string        `json:"mode"`
	Chats      int           `json:"chats"`
	Ready      int           `json:"ready"` // chats with an agent at the start of the window
	Window     time.Duration `json:"window"`
	Polls      int64         `json:"polls"`
	PollErrors int64         `json:"pollErrors"`
	Lateness   summary       `json:"lateness"`
	RoundTrip  summary       `json:"roundTrip"`
	Message    summary       `json:"message"`
	Probes     int64         `json:"probes"`
	Lost       int64         `json:"lost"`
	CPU        time.Duration `json:"cpu"`
	// Allocated and Allocations are the heap bytes and objects allocated in the window;
	// GCs the collections.
	Allocated   uint64 `json:"allocated"`
	Allocations uint64 `json:"allocations"`
	GCs         uint32 `json:"gcs"`
	// MemBase and MemChats are the live heap plus goroutine stacks after a GC, before any
	// chat and with every chat connected (after the warm-up, idle connections closed).
	MemBase  uint64 `json:"memBase"`
	MemChats uint64 `json:"memChats"`
	// StacksChats and GoroutinesChats are the stacks' part of MemChats and the goroutines
	// at that sample: what the figure holds besides the heap.
	StacksChats     uint64 `json:"stacksChats"`
	GoroutinesChats int    `json:"goroutinesChats"`
	// Goroutines, OpenFiles (mostly connections) and RSS are at the end of the window.
	Goroutines int    `json:"goroutines"`
	OpenFiles  int    `json:"openFiles"`
	RSS        uint64 `json:"rss"`
	// Deferred is the engine's turns deferred in the window (a poll still in flight).
	Deferred int64 `json:"deferred"`
	// What the runner and overload modes carried besides polling, in the window: store
	// writes, the records stored at the end, webhook deliveries.
	StoreWrites      int64 `json:"storeWrites"`
	StoreWriteErrors int64 `json:"storeWriteErrors"`
	StoredChats      int   `json:"storedChats"`
	Delivered        int64 `json:"delivered"`
	DeliveryFailed   int64 `json:"deliveryFailed"`
	DeliveryRetried  int64 `json:"deliveryRetried"`
	// Webhook is the webhook mode's delivery figures (partly set by the parent).
	Webhook *webhookResult `json:"webhook,omitempty"`
	// Overload is the overload mode's figures.
	Overload *overloadResult `json:"overload,omitempty"`
	// Set by the parent.
	SimCPU         time.Duration `json:"simCPU"`
	MachineCPU     time.Duration `json:"machineCPU"`
	MessagesFailed int64         `json:"messagesFailed"`
	JoinsFailed    int64         `json:"joinsFailed"`
	// Extras is what the engine carried besides polling; APICPU the store's kube-apiserver
	// and etcd in the window; HookArrived and HookDuplicates the webhook receiver's counts.
	Extras         string        `json:"extras"`
	APICPU         time.Duration `json:"apiCPU"`
	HookArrived    int64         `json:"hookArrived"`
	HookDuplicates int64         `json:"hookDuplicates"`
	// Sim is the simulator's request gaps and idle ends over the window; nil when unread.
	Sim *gmssim.Stats `json:"sim,omitempty"`
}

// lines writes the protocol lines to the parent.
type lines struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lines) send(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.WriteString(s)
	_ = l.w.WriteByte('\n')
	_ = l.w.Flush()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

// runChild runs one side: starts the chats at the ramp rate, has an agent join each, warms
// up, then measures for the window.
func runChild(ctx context.Context, cfg config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lines{w: bufio.NewWriter(os.Stdout)}
	m := &meter{}
	res := &result{Mode: cfg.child, Chats: cfg.chats}
	res.MemBase, _ = memInUse()

	var s side
	var err error
	var hooks *webhookMeter
	var rs *runnerSide
	var deliver atomic.Bool // the webhook is set (else webhook.ErrDisabled)
	var rx *runnerExtras
	switch cfg.child {
	case modeRunner, modeOverload:
		if rx, err = newRunnerExtras(ctx, cfg); err == nil {
			rs, err = newRunnerSide(ctx, cfg, m, rx.options)
		}
		if err == nil {
			rx.start(ctx, cfg, rs, m)
			s = rs
		}
	case modeWebhook:
		rs, err = newRunnerSide(ctx, cfg, m, nil)
		if err == nil {
			hooks = &webhookMeter{m: m}
			startDeliverer(ctx, cfg, rs, hooks, &deliver)
			s = rs
		}
	default:
		s = newBareSide(cfg, m)
	}
	if err != nil {
		return err
	}

	logf("%s: starting %d chats at %.0f/s", cfg.child, cfg.chats, cfg.rampRate)
	begin := time.Now()
	// Concurrently, as bots escalate: with the store an escalation waits for its shard's
	// group commit.
	var opening sync.WaitGroup
	rampUp(ctx, cfg.chats, cfg.rampRate, func(i int) { opening.Go(func() { s.open(ctx, i) }) })
	opening.Wait()
	var ids []string
	for deadline := time.Now().Add(5 * time.Minute); ; {
		var failed, pending int
		ids, failed, pending = s.established()
		if pending == 0 {
			if failed > 0 {
				logf("%s: %d chats failed to start", cfg.child, failed)
			}
			break
		}
		if time.Now().After(deadline) || sleep(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("%d chats still requesting", pending)
		}
	}
	if rs != nil {
		logf("%s: %d escalations refused and tried again", cfg.child, rs.refusals.Load())
	}
	logf("%s: %d chats established in %v; agents joining", cfg.child, len(ids), time.Since(begin).Round(time.Millisecond))
	if err := joinAgents(ctx, cfg.simAddr, ids); err != nil {
		if ctx.Err() != nil {
			return err
		}
		// A side past its capacity lets chats idle out before their agent joins: measure
		// the chats it kept (the report says how many) rather than abort the run.
		logf("%s: %v", cfg.child, err)
	}
	for deadline := time.Now().Add(time.Minute); s.connected() < len(ids); {
		if time.Now().After(deadline) {
			logf("%s: only %d of %d chats saw their agent join", cfg.child, s.connected(), len(ids))
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	res.Ready = s.connected()
	logf("%s: %d chats connected after %v; warming up %v", cfg.child, res.Ready, time.Since(begin).Round(time.Millisecond), cfg.warmup)
	if err := sleep(ctx, cfg.warmup); err != nil {
		return err
	}
	// The chats' own memory: without the idle connections and pollers a burst left (the
	// ramp's, the agents' joins'), whose number follows the largest burst of polls in
	// flight so far rather than the chats. Each sample closes the idle connections, then
	// lets the side poll for memSettle first: sampled at once, the polls in flight just
	// after the close each dialled a connection (two goroutines and their buffers), and
	// the figure swung by half between runs. The least of a few samples, in case a burst
	// was in flight at one. The pool fills up again before the window starts.
	settle := func() error {
		s.closeIdle()
		return sleep(ctx, memSettle)
	}
	res.MemChats = math.MaxUint64
	for range 3 {
		if err := settle(); err != nil {
			return err
		}
		if mem, stacks := memInUse(); mem < res.MemChats {
			res.MemChats, res.StacksChats, res.GoroutinesChats = mem, stacks, runtime.NumGoroutine()
		}
	}
	if cfg.memProfile != "" {
		// What the chats hold: the live heap as the memory figure samples it.
		if err := settle(); err != nil {
			return err
		}
		runtime.GC()
		if err := writeProfile("heap", cfg.memProfile+".chats"); err != nil {
			return err
		}
		// And the goroutines whose stacks the figure counts.
		if err := writeProfile("goroutine", cfg.memProfile+".goroutines"); err != nil {
			return err
		}
	}

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	probeCtx, stopProbes := context.WithCancel(ctx)
	var probing sync.WaitGroup
	var messages atomic.Int64
	var base *webhookResult
	if hooks != nil {
		// The agents' messages start before the window, for a steady flow in it; first a
		// baseline window with the webhook unset (the Deliverer reads the logs but sends
		// nothing), then the webhook is set, as a gateway sets it later.
		probing.Go(func() { runMessages(probeCtx, rs, cfg, m, &messages, out) })
		if base, err = webhookBaseline(ctx, cfg, m, &deliver); err != nil {
			stopProbes()
			return err
		}
	}
	logf("%s: measuring for %v", cfg.child, cfg.duration)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	if rx != nil {
		rx.windowStarted()
	}
	m.measuring.Store(true)
	out.send(lineWindowStart)
	if hooks == nil {
		probing.Go(func() { runProbes(probeCtx, s, cfg, m, out) })
	}
	if cfg.trace {
		probing.Go(func() { trace(probeCtx, cfg.child, m, s) })
	}
	var ov *overload
	offerCtx, stopOffers := context.WithCancel(ctx)
	if cfg.child == modeOverload {
		ov = startOverload(ctx, offerCtx, cfg, rs, m, out)
	}
	err = sleep(ctx, cfg.duration)
	stopOffers()
	if ov != nil {
		res.Overload = ov.finish()
	}
	m.measuring.Store(false)
	res.Window = time.Since(start)
	res.CPU = cpuTime() - cpu0
	res.OpenFiles, res.Goroutines, res.RSS = openFiles(), runtime.NumGoroutine(), rss()
	runtime.ReadMemStats(&ms1)
	res.Allocated, res.Allocations = ms1.TotalAlloc-ms0.TotalAlloc, ms1.Mallocs-ms0.Mallocs
	res.GCs = ms1.NumGC - ms0.NumGC
	if rx != nil {
		rx.windowEnded(res)
	}
	out.send(lineWindowEnd)
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if hooks != nil && err == nil {
		// The messages of the window's end are delivered; the parent times them.
		err = sleep(ctx, webhookDrain)
	}
	stopProbes()
	probing.Wait()
	if err != nil {
		return err
	}
	if cfg.memProfile != "" {
		if err := writeAllocs(cfg.memProfile); err != nil {
			return err
		}
	}

	res.Polls, res.PollErrors, res.Deferred = m.polls.Load(), m.pollErrors.Load(), m.deferred.Load()
	res.Lateness, res.RoundTrip, res.Message = m.lateness.summary(), m.roundTrip.summary(), m.message.summary()
	res.Probes, res.Lost = m.probes.Load(), m.lost.Load()
	if hooks != nil {
		res.Webhook = base
		res.Webhook.Delivered, res.Webhook.Failed, res.Webhook.Retried = hooks.delivered.Load(), hooks.failed.Load(), hooks.retried.Load()
		res.Webhook.Messages = messages.Load()
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	out.send(lineResult + string(b))
	return nil
}

// trace logs the polls of each second of the window and the goroutines, and the polls in
// flight and waiting of a side that tells them (pollLoader).
func trace(ctx context.Context, mode string, m *meter, s side) {
	load := func() string { return "" }
	if l, ok := s.(pollLoader); ok {
		load = func() string {
			pl := l.pollLoad()
			return fmt.Sprintf(", %d polls in flight, %d waiting, limit %d", pl.InFlight, pl.Waiting, pl.Limit)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := m.polls.Load()
	first, dumps := runtime.NumGoroutine(), 0
	for second := 1; ; second++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, g := m.polls.Load(), runtime.NumGoroutine()
		logf("%s: %d polls, %d goroutines%s", mode, n-last, g, load())
		last = n
		// A stall shows as goroutines piling up: what they wait on tells where it is.
		if g > 2*first && dumps < maxStallDumps {
			dumps++
			path := filepath.Join(os.TempDir(), fmt.Sprintf("bench-%s-goroutines-%d.txt", mode, second))
			if err := writeProfileDebug("goroutine", path, 1); err != nil {
				logf("%s: writing the goroutines: %v", mode, err)
			} else {
				logf("%s: goroutines doubled; wrote them to %s", mode, path)
			}
		}
	}
}

// pollLoader is a side that tells its polls in flight (the engine's).
type pollLoader interface{ pollLoad() chat.PollLoad }

// maxStallDumps bounds the goroutine dumps of one traced window.
const maxStallDumps = 3

// writeAllocs writes the allocation profile (since the start, window included).
func writeAllocs(path string) error { return writeProfile("allocs", path) }

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string) error { return writeProfileDebug(name, path, 0) }

// writeProfileDebug writes the named runtime profile to path, in pprof's format (debug 0)
// or as text (debug 1).
func writeProfileDebug(name, path string, debug int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, debug); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// rampUp calls open for 0..n-1 at rate per second.
func rampUp(ctx context.Context, n int, rate float64, open func(int)) {
	start := time.Now()
	for i := range n {
		if rate > 0 {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(at); d > time.Millisecond {
				if sleep(ctx, d) != nil {
					return
				}
			}
		}
		open(i)
	}
}

// runProbes asks for agent messages at the probe rate, round robin over the chats, until
// ctx ends.
func runProbes(ctx context.Context, s side, cfg config, m *meter, out *lines) {
	rate := min(cfg.probeRate, float64(cfg.chats)/2)
	if rate <= 0 {
		return
	}
	send := func(chatID string) { out.send(lineMessage + chatID) }
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	next := 0
	var probes sync.WaitGroup
	defer probes.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range 16 { // skip chats with a probe still running
			i := next
			next = (next + 1) % cfg.chats
			if s.probe(ctx, i, send) {
				m.probes.Add(1)
				break
			}
		}
	}
}

// benchAgent is the agent who joins the bench's chats.
var benchAgent = gmssim.Agent{Nickname: "Agent Smith", Email: "agent.smith@example.com"}

// joinAgents has an agent join every chat through the simulator's control API.
func joinAgents(ctx context.Context, addr string, ids []string) error {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: t, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ctl := gmssim.NewControlClient("http://"+addr, client)
	work := make(chan string)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for id := range work {
				if err := ctl.Join(ctx, id, benchAgent); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d agent joins failed", n, len(ids))
	}
	return ctx.Err()
}

// parseSent reads the send time an agent message of the probe carries.
func parseSent(text string) (time.Time, bool) {
	ns, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// phase is the engine's spread of chats over the interval (chat.phase): FNV-1a of the id.
func phase(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}

// memInUse is the live heap plus goroutine stacks after a full collection, and the
// stacks' part of it.
func memInUse() (mem, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse, ms.StackInuse
}

// rss is the resident set size from /proc, 0 when unknown.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// openFiles counts this process's open file descriptors; 0 when unknown.
func openFiles() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(fds)
}

// cpuTime is this process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
