// Command pause is the sandbox ("pause") container of a pod, like Kubernetes' pause.c: it
// holds the pod's namespaces open, blocks until SIGTERM or SIGINT (then exits 0) and, as
// PID 1 of a pod that shares its process namespace, reaps the zombies that are reparented
// to it. It must be built static (CGO_ENABLED=0); `go run . --pause` in hack/image does that and
// wraps it in an image whose entrypoint is /pause.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v, like the upstream pause binary.
const version = "genesys-gateway-operator-pause"

func main() {
	for _, a := range os.Args[1:] {
		if a == "-v" || a == "--version" {
			fmt.Println("pause.go", version)
			return
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if sigchld != nil {
		signal.Notify(sigs, sigchld)
	}
	if os.Getpid() != 1 { // after Notify: tests wait for this line before signalling
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	reap() // children that exited before Notify took effect
	for sig := range sigs {
		if sigchld != nil && sig == sigchld {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
		os.Exit(0)
	}
}
