package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// Lines a side's process writes on its standard output for the parent; everything else it
// says goes to standard error.
const (
	lineMessage     = "MSG "    // MSG <genesysChatId>: post an agent message now
	lineWindowStart = "WINDOW+" // the measured window starts
	lineWindowEnd   = "WINDOW-" // the measured window ended
	lineResult      = "RESULT " // RESULT <json>
	lineJoin        = "JOIN "   // JOIN <genesysChatId>: have an agent join now
)

// maxRecordedRequests bounds the simulator's request log, which a long run would grow.
const maxRecordedRequests = 1000

// runSide runs one side in a child process against a fresh simulator (or -sim-addr) and
// returns its result, with the simulator's CPU during the window.
func runSide(ctx context.Context, cfg config, mode string) (*result, error) {
	addr := cfg.simAddr
	simPID := 0
	if addr == "" {
		sim, err := startSim(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer sim.stop()
		addr, simPID = sim.addr, sim.cmd.Process.Pid
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program: %w", err)
	}
	args := []string{
		"-child", mode, "-chats", strconv.Itoa(cfg.chats), "-duration", cfg.duration.String(),
		"-warmup", cfg.warmup.String(), "-sim-addr", addr,
		"-probe-rate", strconv.FormatFloat(cfg.probeRate, 'f', -1, 64),
		"-ramp-rate", strconv.FormatFloat(cfg.rampRate, 'f', -1, 64),
	}
	if cfg.cpuProfile != "" {
		args = append(args, "-cpuprofile", cfg.cpuProfile+"."+mode)
	}
	if cfg.memProfile != "" {
		args = append(args, "-memprofile", cfg.memProfile+"."+mode)
	}
	if cfg.trace {
		args = append(args, "-trace")
	}
	if mode == modeOverload {
		args = append(args, "-overload-rate", strconv.FormatFloat(cfg.overloadRate, 'f', -1, 64))
	}
	ext, err := startExtras(ctx, cfg, mode)
	if err != nil {
		return nil, err
	}
	defer ext.stop()
	args = append(args, ext.args...)
	var rcv *receiver
	if mode == modeWebhook {
		if rcv, err = startReceiver(); err != nil {
			return nil, fmt.Errorf("starting the webhook receiver: %w", err)
		}
		defer rcv.stop()
		args = append(args, "-webhook-url", rcv.url, "-webhook-message-every", cfg.webhookMessageEvery.String(),
			"-webhook-baseline", cfg.webhookBaseline.String())
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	var lim *cpuLimit
	if cfg.cpus > 0 {
		if lim, err = newCPULimit(cfg.cpus); err != nil {
			return nil, err
		}
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(gomaxprocsFor(cfg.cpus)))
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		if lim != nil {
			lim.remove()
		}
		return nil, err
	}
	if err := cfg.pinned.start(cmd); err != nil {
		if lim != nil {
			lim.remove()
		}
		return nil, fmt.Errorf("starting the %s process: %w", mode, err)
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if lim != nil {
			fmt.Fprintf(os.Stderr, "bench: %s process cgroup %s: %s\n", mode, lim.dir, lim.throttling())
			lim.remove()
		}
	}()
	if lim != nil {
		// Before its work: the child ramps its chats up only after it started.
		if err := lim.add(cmd.Process.Pid); err != nil {
			return nil, err
		}
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-stopped:
		}
	}()

	agent := newAgent(addr)
	var res *result
	var simStart, simEnd time.Duration
	var busyStart, busyEnd time.Duration
	var winStart, winEnd time.Time
	var posted atomic.Int64 // agent messages posted in the window
	measuring := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, lineMessage):
			if measuring {
				posted.Add(1)
			}
			go agent.message(strings.TrimPrefix(line, lineMessage))
		case strings.HasPrefix(line, lineJoin):
			go agent.join(strings.TrimPrefix(line, lineJoin))
		case line == lineWindowStart:
			ext.windowStarted(ctx, addr)
			simStart, busyStart = procCPU(simPID), machineBusy()
			winStart, measuring = time.Now(), true
			if rcv != nil {
				rcv.measuring.Store(true)
			}
		case line == lineWindowEnd:
			simEnd, busyEnd = procCPU(simPID), machineBusy()
			ext.windowEnded(ctx, addr)
			winEnd, measuring = time.Now(), false
			if rcv != nil {
				rcv.measuring.Store(false)
			}
		case strings.HasPrefix(line, lineResult):
			res = &result{}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, lineResult)), res); err != nil {
				return nil, fmt.Errorf("reading the %s result: %w", mode, err)
			}
		default:
			fmt.Fprintln(os.Stderr, line)
		}
	}
	waited = true
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("the %s process: %w", mode, err)
	}
	if res == nil {
		return nil, fmt.Errorf("the %s process gave no result", mode)
	}
	if simPID != 0 {
		res.SimCPU = simEnd - simStart
	}
	res.MessagesFailed, res.JoinsFailed = agent.failed.Load(), agent.joinFailed.Load()
	if rcv != nil && res.Webhook != nil {
		rcv.fill(res.Webhook, winStart, winEnd, posted.Load())
	}
	res.MachineCPU = busyEnd - busyStart
	ext.fill(res)
	return res, nil
}

// machineBusy is the CPU time all processes of the machine used so far (user, nice,
// system, irq, softirq), from /proc/stat; 0 when unknown.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		busy += n
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(busy) * time.Second / clockTicks
}

// simProcess is a simulator this program started.
type simProcess struct {
	addr   string
	cmd    *exec.Cmd
	exited chan error
}

// startSim starts a simulator on a free loopback port and waits until it answers.
func startSim(ctx context.Context, cfg config) (*simProcess, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	if cfg.simBin != "" {
		cmd = exec.Command(cfg.simBin, gmssim.Subcommand, "--addr", addr,
			"--max-recorded-requests", strconv.Itoa(maxRecordedRequests), "--idle-timeout", cfg.simIdleTimeout.String())
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program: %w", err)
		}
		cmd = exec.Command(self, "-child", "sim", "-sim-addr", addr, "-sim-idle-timeout", cfg.simIdleTimeout.String())
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the simulator: %w", err)
	}
	sim := &simProcess{addr: addr, cmd: cmd, exited: make(chan error, 1)}
	go func() { sim.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	ctl := gmssim.NewControlClient("http://"+addr, nil)
	for {
		if _, err := ctl.Faults(ctx); err == nil {
			return sim, nil
		}
		select {
		case err := <-sim.exited:
			return nil, fmt.Errorf("the simulator exited: %v", err)
		case <-ctx.Done():
			sim.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			sim.stop()
			return nil, errors.New("the simulator did not answer within 30 s")
		}
	}
}

// stop stops the simulator with SIGTERM, then SIGKILL after 15 s.
func (s *simProcess) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		_ = err // stopped on purpose: its exit status says nothing
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		err := <-s.exited
		_ = err
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// runSim serves the simulator in this process (the sim child): the same code as the
// operator binary's gms-simulator subcommand.
func runSim(ctx context.Context, cfg config) int {
	return gmssim.Main(ctx, []string{"--addr", cfg.simAddr, "--max-recorded-requests", strconv.Itoa(maxRecordedRequests),
		"--idle-timeout", cfg.simIdleTimeout.String()})
}

// procCPU is the user plus system CPU time of a process so far, from /proc; 0 when unknown.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses: state is field 3, utime 14,
	// stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(user+sys) * time.Second / clockTicks
}

// agent posts agent messages to the simulator's control API on behalf of a side: the text
// is the send time in Unix nanoseconds, which the side compares with its own clock.
type agent struct {
	ctl        *gmssim.ControlClient
	failed     atomic.Int64
	joinFailed atomic.Int64
}

func newAgent(addr string) *agent {
	// Up to 200 messages a second: keep enough idle connections not to dial for each.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 512
	return &agent{ctl: gmssim.NewControlClient("http://"+addr, &http.Client{Transport: t, Timeout: 10 * time.Second})}
}

// join has an agent join a chat.
func (a *agent) join(chatID string) {
	if err := a.ctl.Join(context.Background(), chatID, benchAgent); err != nil {
		a.joinFailed.Add(1)
	}
}

func (a *agent) message(chatID string) {
	if err := a.ctl.Message(context.Background(), chatID, strconv.FormatInt(time.Now().UnixNano(), 10)); err != nil {
		a.failed.Add(1)
	}
}
