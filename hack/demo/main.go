// Command demo shows the whole product on one machine, with nothing but Go: a local
// control plane (envtest's etcd and kube-apiserver, RBAC on), the operator, the GMS
// simulator, a tenant with a deployed GenesysGateway, and its chat runners started as
// local processes exactly as the operator's StatefulSet describes them (there is no kubelet).
// It then plays a scripted conversation between a bot, the runners and a simulated agent,
// prints how to talk to the running system, and keeps it running until Ctrl-C.
//
//	make demo                 # go run ./hack/demo --assets bin/k8s/<version> --manager bin/manager
//	make demo ARGS=--once     # run the script, clean up, exit 0 on success
//
// Every process it starts runs in a process group of its own and is stopped on every exit
// path; every file it writes is under its work directory, removed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	// assets is the directory holding kube-apiserver and etcd.
	assets string
	// manager is the operator binary; it is also the chat runner and the GMS simulator.
	manager string
	// crds is the directory of the CRD manifests.
	crds string
	// workdir holds the kubeconfigs, logs and control plane data; a new temporary
	// directory when empty.
	workdir string
	// keep leaves the work directory (logs) in place at the end.
	keep bool
	// once runs the script and returns instead of waiting for a signal.
	once bool
	// replicas is the number of chat runners of the demo gateway.
	replicas int
	// stepTimeout bounds each step.
	stepTimeout time.Duration
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	os.Exit(runMain(o))
}

// runMain runs the demo until it ends or is interrupted and returns the exit code; main
// exits only after its deferred cleanup ran.
func runMain(o options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		return 1
	}
	return 0
}

// parseFlags reads the command line.
func parseFlags(args []string, usage io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "Directory with the kube-apiserver and etcd binaries (make envtest builds them into bin/k8s/<version>); default $KUBEBUILDER_ASSETS, else the newest bin/k8s/*.")
	fs.StringVar(&o.manager, "manager", filepath.Join("bin", "manager"), "The operator binary (make build); it also runs the chat runners and the GMS simulator.")
	fs.StringVar(&o.crds, "crds", filepath.Join("config", "crd", "bases"), "Directory of the CRD manifests (make manifests).")
	fs.StringVar(&o.workdir, "workdir", "", "Directory for kubeconfigs, logs and control plane data: new or empty, removed at the end; default a new temporary directory.")
	fs.BoolVar(&o.keep, "keep", false, "Keep the work directory (logs, kubeconfigs) at the end.")
	fs.BoolVar(&o.once, "once", false, "Run the scripted conversation, clean up and exit: 0 when every step succeeded.")
	fs.IntVar(&o.replicas, "replicas", 2, "Chat runners of the demo gateway (1..5); with more than one, calls reaching the wrong runner are forwarded.")
	fs.DurationVar(&o.stepTimeout, "step-timeout", 60*time.Second, "Time limit of each step.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %v", fs.Args())
		fmt.Fprintln(usage, err)
		return o, err
	}
	if o.replicas < 1 || o.replicas > 5 {
		err := errors.New("--replicas must be between 1 and 5")
		fmt.Fprintln(usage, err)
		return o, err
	}
	return o, nil
}

// resolve checks the options and fills in their defaults.
func (o *options) resolve() error {
	if o.assets == "" {
		dirs, _ := filepath.Glob(filepath.Join("bin", "k8s", "*"))
		if len(dirs) == 0 {
			return errors.New("no control plane binaries: pass --assets, or run `make envtest` (make demo does)")
		}
		o.assets = dirs[len(dirs)-1]
	}
	var err error
	if o.assets, err = filepath.Abs(o.assets); err != nil {
		return fmt.Errorf("resolving --assets: %w", err)
	}
	if o.manager, err = filepath.Abs(o.manager); err != nil {
		return fmt.Errorf("resolving --manager: %w", err)
	}
	if fi, err := os.Stat(o.manager); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("--manager %s is not an executable (make build builds bin/manager)", o.manager)
	}
	if _, err := os.Stat(o.crds); err != nil {
		return fmt.Errorf("the CRDs (--crds): %w", err)
	}
	if o.workdir == "" {
		if o.workdir, err = os.MkdirTemp("", "genesys-gateway-demo-"); err != nil {
			return fmt.Errorf("creating the work directory: %w", err)
		}
		return nil
	}
	if o.workdir, err = filepath.Abs(o.workdir); err != nil {
		return fmt.Errorf("resolving --workdir: %w", err)
	}
	entries, err := os.ReadDir(o.workdir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(o.workdir, 0o700); err != nil {
			return fmt.Errorf("creating the work directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("reading --workdir: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("--workdir %s is not empty: it is removed at the end, so give a new or empty directory", o.workdir)
	}
	return nil
}
