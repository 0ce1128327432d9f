package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinning keeps the measured process on a CPU of its own: the last CPU for it, the others
// for everything else of the bench (this process, the simulator, kube-apiserver and etcd,
// which inherit this process's CPUs). On a 2-CPU machine the runner or the bare loop then
// has one core, as a pod with a CPU of its own would, and the simulator and the control
// plane, which a cluster runs elsewhere, do not compete with it. nil when not pinning.
type pinning struct {
	measured, others unix.CPUSet
	desc             string
}

// newPinning pins every thread of this process to the other CPUs (threads started later
// inherit it); it fails on a machine with one CPU.
func newPinning() (*pinning, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return nil, fmt.Errorf("-pin needs 2 CPUs or more, this machine has %d", n)
	}
	p := &pinning{desc: fmt.Sprintf("measured process pinned to CPU %d, the bench, simulator and control plane to CPUs 0–%d", n-1, n-2)}
	p.measured.Set(n - 1)
	for i := range n - 1 {
		p.others.Set(i)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("listing this process's threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &p.others); err != nil {
			return nil, fmt.Errorf("pinning thread %d: %w", tid, err)
		}
	}
	return p, nil
}

// start starts the measured process on its CPU: the thread that forks it holds that CPU
// for the fork, so the child and all its threads inherit it.
func (p *pinning) start(cmd *exec.Cmd) error {
	if p == nil {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.SchedSetaffinity(0, &p.measured); err != nil {
		return fmt.Errorf("pinning the measured process: %w", err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &p.others); rerr != nil && err == nil {
		err = fmt.Errorf("pinning this thread back: %w", rerr)
	}
	return err
}
