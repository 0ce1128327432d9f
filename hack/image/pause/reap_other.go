//go:build !unix

package main

import "os"

// sigchld is nil where there are no Unix process semantics; the pause image is Linux only.
var sigchld os.Signal

func reap() {}
