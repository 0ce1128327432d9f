package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat returns the start time (clock ticks after boot) and state letter of pid.
func procStat(pid int) (start uint64, st byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, f[0][0], true
}

// alive tells whether the recorded process still runs: same PID, same start time, and not
// a zombie waiting for its parent (PID 1 after up exited).
func alive(p proc) bool {
	start, st, ok := procStat(p.PID)
	return ok && start == p.StartTime && st != 'Z' && st != 'X'
}

// stopProcess sends SIGTERM to the recorded process (only if it is still the same process),
// waits up to grace, then SIGKILL.
func stopProcess(p proc, grace time.Duration, logf func(string, ...any)) error {
	if !alive(p) {
		logf("%s (pid %d) is not running", p.Name, p.PID)
		return nil
	}
	t0 := time.Now()
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(p, grace) {
		logf("stopped %s (pid %d) with SIGTERM in %.1fs", p.Name, p.PID, time.Since(t0).Seconds())
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(p, 10*time.Second) {
		logf("killed %s (pid %d) with SIGKILL after %s", p.Name, p.PID, grace)
		return nil
	}
	return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
}

func waitGone(p proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(p) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procCmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// allPIDs lists the processes of the machine.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// start launches a daemon in its own session, output to <state>/logs/<name>.log, and records
// it. A goroutine notes if it exits while up is still waiting.
func (c *cluster) start(name string, args ...string) error {
	bin := filepath.Join(c.st.Bin, name)
	if name == "containerd" {
		var err error
		if bin, err = lookPath(name); err != nil {
			return err
		}
	}
	logFile := filepath.Join(c.p.logs, name+".log")
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = c.p.dir
	cmd.Env = hostEnv()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	start, _, ok := procStat(cmd.Process.Pid)
	if !ok {
		_ = cmd.Wait()
		return fmt.Errorf("%s exited at once: see %s\n%s", name, logFile, tailFile(logFile, 20))
	}
	p := proc{Name: name, PID: cmd.Process.Pid, StartTime: start, Cmd: append([]string{bin}, args...), Log: logFile}
	if err := c.st.record(func() { c.st.Processes = append(c.st.Processes, p) }); err != nil {
		return err
	}
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exit status 0")
		}
		c.mu.Lock()
		c.exits[name] = err
		c.mu.Unlock()
	}()
	c.logf("started %s (pid %d), log %s", name, p.PID, logFile)
	return nil
}

// wait polls check until it succeeds, a daemon exits, or the timeout.
func (c *cluster) wait(what string, check func() error) error {
	t := time.Now()
	deadline := t.Add(c.o.timeout)
	var last error
	for {
		c.mu.Lock()
		for name, err := range c.exits {
			c.mu.Unlock()
			lf := filepath.Join(c.p.logs, name+".log")
			return fmt.Errorf("%s exited (%v) while waiting for %s; the end of %s:\n%s", name, err, what, lf, tailFile(lf, 30))
		}
		c.mu.Unlock()
		if last = check(); last == nil {
			c.logf("%s (%.1fs)", what, time.Since(t).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %v", c.o.timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
