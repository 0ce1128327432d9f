package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process has to stop after SIGTERM before it is killed.
const stopGrace = 10 * time.Second

// proc is a process the demo started: in a process group of its own (so that a Ctrl-C on
// the terminal reaches only the demo, which stops its processes in order), its output
// appended to a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // the exit error, valid after done
}

// supervisor starts processes and stops every one of them, whatever happens.
type supervisor struct {
	mu    sync.Mutex
	procs []*proc
	pids  []int // every PID ever started, for the test to check they are gone
}

// start starts argv with exactly the environment env (nil: this process's environment),
// its stdout and stderr appended to logPath.
func (s *supervisor) start(name string, argv, env []string, logPath string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy
	// The context is the process's own: stop cancels it, which sends SIGTERM to the
	// process group (Cancel), and Wait kills the process WaitDelay later if it is still there.
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = processGroupAttr()
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s (%s): %w", name, argv[0], err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.pids = append(s.pids, cmd.Process.Pid)
	s.mu.Unlock()
	return p, nil
}

// pid is the process's id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process's group, kills it after stopGrace, and waits for it.
// It reports how the process ended.
func (p *proc) stop() string {
	p.cancel()
	<-p.done
	return p.exitStatus()
}

// exitStatus describes how the process ended; valid once it has.
func (p *proc) exitStatus() string {
	st := p.cmd.ProcessState
	if st == nil {
		return fmt.Sprint(p.err)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "ended by signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exited %d", st.ExitCode())
}

// forget drops a stopped process from the ones stopAll stops.
func (s *supervisor) forget(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = slices.DeleteFunc(s.procs, func(q *proc) bool { return q == p })
}

// stopAll stops every process still running, the newest first (runners before the
// operator before the simulator), and reports each one.
func (s *supervisor) stopAll(report func(format string, args ...any)) {
	s.mu.Lock()
	procs := slices.Clone(s.procs)
	s.procs = nil
	s.mu.Unlock()
	for _, p := range slices.Backward(procs) {
		report("stopped %s (pid %d): %s", p.name, p.pid(), p.stop())
	}
}

// startedPIDs returns the id of every process started.
func (s *supervisor) startedPIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pids)
}

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d: %w", pid, err)
	}
	return nil
}
