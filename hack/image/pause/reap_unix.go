//go:build unix

package main

import (
	"os"
	"syscall"
)

// sigchld tells of exited children.
var sigchld os.Signal = syscall.SIGCHLD

// reap collects every exited child without blocking. Signals coalesce, so one SIGCHLD can
// stand for many children: loop until none is left to collect.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil { // 0: children left but none exited; ECHILD: no children
			return
		}
	}
}
