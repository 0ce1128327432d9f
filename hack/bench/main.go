// Command bench measures the chat runner's engine (chat.Manager with its gms.Client) against
// the GMS simulator: N concurrent chats polled every second for a fixed window. It reports
// the polls per second achieved, poll lateness, agent-message-to-event latency, CPU per poll
// and memory per chat, and runs the same request schedule with a bare net/http loop (a
// goroutine and a timer per chat) for comparison. It prints Markdown for the README.
//
//	go run ./hack/bench -chats 1000 -duration 30s
//
// Each side runs in a process of its own, and the simulator in a third (bin/manager
// gms-simulator with -sim-bin, else this program re-executed as the simulator), so the CPU
// and memory measured are the engine's or the loop's alone. The agent messages of the
// latency probe are posted to the simulator's control API by this (parent) process, not by
// the measured one; they carry their send time as text.
//
// The runner mode's engine carries what a runner carries besides polling (-runner-with,
// by default both): every chat's durable record in the chat store on a real kube-apiserver
// and etcd (envtest, from -assets; they run at nice 19, since a cluster runs them
// elsewhere), and webhook delivery of every event to a receiver in this process. Every
// side's simulator ends a chat its client left unpolled for -sim-idle-timeout (3 s, three
// intervals), and its stats give each chat's longest gap between polls over the window.
//
// Mode overload (-modes overload) holds the engine to -overload-cpus (0.5) with a cgroup
// quota and, on top of -chats started before the window, offers -overload-rate new
// escalations a second through it: it shows when the engine starts shedding them (503,
// behind its polls), the lag then, each chat's longest gap, and whether any chat failed
// or idled out. -pin gives the measured process a CPU of its own.
//
// Mode webhook (-modes webhook) runs the engine with the runner's webhook Deliverer
// (chatrunner/webhook, its defaults) delivering to a plain net/http receiver in this
// process (it verifies nothing, records each webhook-id's arrival, answers 204). No bot
// polls; every chat gets one agent message every -webhook-message-every (posted by this
// process, text = post time), from before the window on. A baseline window
// (-webhook-baseline) with the webhook unset comes first: its CPU per poll, times the
// window's polls, is subtracted from the window's CPU to give the CPU per delivered event
// without polling (both figures are printed, and the runner mode's CPU per poll too when
// it ran, though that one includes its bot's long polls). Latency is from the post of an
// agent message to the arrival of its delivery, for messages posted in the window (the
// engine delivers for a few seconds after it).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line, shared by the parent and its children.
type config struct {
	child      string
	chats      int
	duration   time.Duration
	warmup     time.Duration
	simAddr    string
	simBin     string
	probeRate  float64
	rampRate   float64
	modes      string
	cpuProfile string
	memProfile string
	trace      bool
	// cpus holds each measured process to this much CPU (a cgroup quota); 0 leaves it
	// unlimited. cpuLimitDesc says how, for the report.
	cpus         float64
	cpuLimitDesc string
	// pin runs the measured process on a CPU of its own (pinning); pinned is set by the
	// parent when it does.
	pin    bool
	pinned *pinning
	// repeat is how many times -modes run (their ratios' median).
	repeat int
	// The capacity search.
	capacity       bool
	capacityStart  int
	capacityWindow time.Duration
	// The store mode.
	assets            string
	kubeconfig        string
	storePhase        string
	storeState        string
	storeMessageEvery time.Duration
	storeQPS          float64
	storeQPSList      string
	// What the runner and overload modes carry besides polling (store, webhook).
	runnerWith string
	// simIdleTimeout is the simulator's client idle timeout in the runner, bare, webhook
	// and overload modes.
	simIdleTimeout time.Duration
	// The overload mode.
	overloadCPUs   float64
	overloadRate   float64
	overloadWindow time.Duration
	// The webhook mode.
	webhookMessageEvery time.Duration
	webhookURL          string
	webhookBaseline     time.Duration
}

func main() {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.IntVar(&cfg.chats, "chats", 1000, "Number of concurrent chats.")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "Length of the measured window.")
	fs.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "Steady polling before the window starts, once every chat has its agent.")
	fs.StringVar(&cfg.simAddr, "sim-addr", "", "Address of a running GMS simulator to use for both sides; empty starts a fresh one per side.")
	fs.StringVar(&cfg.simBin, "sim-bin", "", "The operator binary whose gms-simulator subcommand to start (e.g. bin/manager); empty re-executes this program as the simulator.")
	fs.Float64Var(&cfg.probeRate, "probe-rate", 200, "Agent messages per second of the latency probe (at most chats/2).")
	fs.Float64Var(&cfg.rampRate, "ramp-rate", 500, "Chats started per second before the window (a bot honours a refusal's Retry-After, up to 3 tries).")
	fs.StringVar(&cfg.modes, "modes", "runner,bare,webhook,store", "The sides to run, in order: runner (the engine, with -runner-with), bare, webhook (the engine delivering every event to a webhook receiver in this process, no bot polling), store (the durable chat store against kube-apiserver and etcd, a kill and a resume; skipped without -assets), overload (the engine with -runner-with held to -overload-cpus while escalations keep coming: does it shed them before any chat's gap between polls nears 3 s?).")
	fs.StringVar(&cfg.runnerWith, "runner-with", "store,webhook", "What the runner and overload modes carry besides polling, as a runner does: store (every chat's durable record in the chat store on a kube-apiserver and etcd from -assets; left out, with a note, without them), webhook (every event delivered to a receiver in this process). Empty: polling alone.")
	fs.DurationVar(&cfg.simIdleTimeout, "sim-idle-timeout", 3*time.Second, "The simulator's client idle timeout (GMS flex-disconnect-timeout) in the runner, bare, webhook and overload modes: a chat whose client made no request for longer ends, and is counted. 3 s is three polling intervals. 0 never.")
	fs.Float64Var(&cfg.overloadCPUs, "overload-cpus", 0.5, "Overload mode: the CPU the engine is held to (as -cpus).")
	fs.Float64Var(&cfg.overloadRate, "overload-rate", 200, "Overload mode: new escalations offered per second through the window, on top of the -chats started before it.")
	fs.DurationVar(&cfg.overloadWindow, "overload-window", 60*time.Second, "Overload mode: the window through which escalations are offered and measured.")
	fs.DurationVar(&cfg.webhookMessageEvery, "webhook-message-every", 10*time.Second, "Webhook mode: one agent message per chat this often (chats/this messages a second), from shortly before the window on.")
	fs.StringVar(&cfg.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "Directory of the kube-apiserver and etcd binaries of the store mode (envtest; make envtest builds bin/k8s/<version>).")
	fs.DurationVar(&cfg.storeMessageEvery, "store-message-every", 10*time.Second, "Store mode: one agent message per chat this often, from the warm-up on.")
	fs.StringVar(&cfg.storeQPSList, "store-qps", "50", "Store mode: the engine's client QPS limits to measure, one run each (burst twice it); 50 is the runner's own limit, 0 keeps client-go's default (5, burst 10), which starved the store at 10,000 chats.")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "Write a CPU profile of each side's window to this path plus .runner or .bare.")
	fs.StringVar(&cfg.memProfile, "memprofile", "", "Write an allocation profile of each side to this path plus .runner or .bare, and its heap and goroutines as the memory figure samples them (all chats connected) to that path plus .chats and .goroutines.")
	fs.Float64Var(&cfg.cpus, "cpus", 0, "Hold each measured process (the runner, bare and webhook children, one at a time; not the store mode) to this much CPU, e.g. 0.5, with a cgroup quota (cgroup v2 cpu.max, else cgroup v1 cpu.cfs_quota_us; needs root), and set its GOMAXPROCS to the next whole number; 0 leaves it unlimited. Fails when no cgroup cpu controller is usable.")
	fs.BoolVar(&cfg.pin, "pin", false, "Pin the measured process (runner, bare, webhook or overload child) to the last CPU and everything else of the bench (this process, the simulator, kube-apiserver and etcd) to the others: the measured side gets a core of its own (and GOMAXPROCS 1), and the simulator and control plane do not compete with it. Needs 2 CPUs or more.")
	fs.BoolVar(&cfg.capacity, "capacity", false, "Instead of the report, search for each of the runner and bare modes in -modes the largest number of chats it sustains at 1 s polling (poll lateness p99 < 50 ms and polls/s >= 0.99 x chats): doubling from -capacity-start, then bisecting to within 10%, one -capacity-window window per trial (each trial also ramps up and warms up; a search takes several minutes per side).")
	fs.IntVar(&cfg.capacityStart, "capacity-start", 1000, "Capacity search: the first number of chats tried.")
	fs.IntVar(&cfg.repeat, "repeat", 1, "Run -modes this many times over, each run with its own report, then the runner/bare ratios of every run and their median: the ratios of one run vary by several percent on a shared machine.")
	fs.DurationVar(&cfg.capacityWindow, "capacity-window", 10*time.Second, "Capacity search: the measured window of each trial.")
	fs.BoolVar(&cfg.trace, "trace", false, "Log the polls of each second of the window and the goroutines; when the goroutines double, write them (what each waits on) to the temporary directory, at most three times.")
	fs.Float64Var(&cfg.storeQPS, "store-child-qps", 0, "Internal: the store child's client QPS limit.")
	fs.StringVar(&cfg.child, "child", "", "Internal: run as the runner, bare, store or sim child process.")
	fs.DurationVar(&cfg.webhookBaseline, "webhook-baseline", 15*time.Second, "Webhook mode: a window this long before the measured one with the webhook unset (same polls and messages), whose CPU per poll is subtracted; 0 skips it.")
	fs.StringVar(&cfg.webhookURL, "webhook-url", "", "Internal: the webhook child's receiver URL.")
	fs.StringVar(&cfg.kubeconfig, "kubeconfig", "", "Internal: the store child's kubeconfig.")
	fs.StringVar(&cfg.storePhase, "store-phase", "", "Internal: the store child's part, first or resume.")
	fs.StringVar(&cfg.storeState, "store-state", "", "Internal: the file of the first store engine's event counts.")
	_ = fs.Parse(os.Args[1:])
	raiseFileLimit()
	os.Exit(run(cfg))
}

// run runs the parent or a child until it ends or is interrupted and returns the exit
// code; main exits only after its deferred cleanup ran.
func run(cfg config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cfg.child {
	case "":
		err = runParent(ctx, cfg)
	case "sim":
		return runSim(ctx, cfg)
	case modeRunner, modeBare, modeWebhook, modeOverload:
		err = runChild(ctx, cfg)
	case modeStore:
		err = runStoreChild(ctx, cfg)
	default:
		err = fmt.Errorf("unknown child %q", cfg.child)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// raiseFileLimit lifts the soft limit of open files to the hard one: every chat in flight
// holds a connection, on both ends. Children inherit it.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// runParent runs each side with its own simulator and prints the report.
func runParent(ctx context.Context, cfg config) error {
	if cfg.chats < 1 {
		return fmt.Errorf("-chats must be at least 1")
	}
	if cfg.cpus < 0 {
		return fmt.Errorf("-cpus must not be negative")
	}
	if cfg.pin {
		p, err := newPinning()
		if err != nil {
			return err
		}
		cfg.pinned = p
	}
	if cfg.cpus > 0 {
		// Check now that the quota can be set, rather than after a side ran.
		lim, err := newCPULimit(cfg.cpus)
		if err != nil {
			return err
		}
		lim.remove()
		cfg.cpuLimitDesc = fmt.Sprintf("each measured process held to %g CPU (%s), GOMAXPROCS %d",
			cfg.cpus, lim.desc, gomaxprocsFor(cfg.cpus))
	}
	if cfg.capacity {
		return runCapacity(ctx, cfg)
	}
	if cfg.repeat < 1 {
		return fmt.Errorf("-repeat must be at least 1")
	}
	var pairs [][2]*result
	for range cfg.repeat {
		results, err := runModes(ctx, cfg)
		if err != nil {
			return err
		}
		if p, ok := runnerAndBare(results); ok {
			pairs = append(pairs, p)
		}
	}
	if cfg.repeat > 1 {
		printRatios(os.Stdout, pairs)
	}
	return nil
}

// runModes runs each of -modes once and prints their report.
func runModes(ctx context.Context, cfg config) ([]*result, error) {
	var results []*result
	var stored []*storeReport
	for _, mode := range strings.Split(cfg.modes, ",") {
		mode = strings.TrimSpace(mode)
		if mode == modeStore {
			for _, q := range strings.Split(cfg.storeQPSList, ",") {
				qps, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
				if err != nil || qps < 0 {
					return nil, fmt.Errorf("-store-qps: %q is not a QPS", q)
				}
				c := cfg
				c.storeQPS = qps
				r, err := runStore(ctx, c)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", mode, err)
				}
				stored = append(stored, r)
				if r.skipped != "" {
					break
				}
			}
			continue
		}
		if mode == modeOverload {
			r, err := runOverload(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", mode, err)
			}
			results = append(results, r)
			continue
		}
		if mode != modeRunner && mode != modeBare && mode != modeWebhook {
			return nil, fmt.Errorf("unknown mode %q in -modes", mode)
		}
		r, err := runSide(ctx, cfg, mode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mode, err)
		}
		if r.Webhook != nil {
			r.Webhook.PollCPU, r.Webhook.PollAlloc = pollCostOf(results)
		}
		results = append(results, r)
	}
	printReport(os.Stdout, cfg, results, stored)
	return results, nil
}
