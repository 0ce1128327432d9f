package main

import "syscall"

// processGroupAttr puts a child in a process group of its own, and has the kernel kill it
// should the demo die without stopping it (SIGKILL, a crash).
func processGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
