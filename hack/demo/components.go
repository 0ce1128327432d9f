package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// runnerImage is the operator's --runner-image: no image is ever pulled (the runners run
// as local processes), but the operator needs one to render its StatefulSet.
const runnerImage = "genesys-gateway-operator:demo"

// gmsUser is the simulator's Basic auth user; its password is generated for each run.
const gmsUser = "demo"

// startOperator starts the operator as the admin of the control plane, with its probes
// and metrics on free loopback ports, and waits until it is ready.
func startOperator(ctx context.Context, sup *supervisor, manager string, cp *controlPlane, workdir string) (*proc, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	health, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := []string{manager, "--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + health, "--runner-image=" + runnerImage}
	env := append(withoutEnv(os.Environ(), "KUBECONFIG"), "KUBECONFIG="+cp.kubeconfig)
	p, err := sup.start("operator", argv, env, filepath.Join(workdir, "operator.log"))
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, "http://"+health+"/readyz", p); err != nil {
		return nil, fmt.Errorf("waiting for the operator: %w", err)
	}
	return p, nil
}

// simulator is the running GMS simulator.
type simulator struct {
	proc *proc
	// url is its base URL: the Chat API under /genesys/2/chat/, the control API under /sim/.
	url string
	// password is its Basic auth password, generated for this run.
	password string
}

// startSimulator starts the GMS simulator with Basic auth on a free loopback port.
func startSimulator(ctx context.Context, sup *supervisor, manager, workdir string) (*simulator, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	password := rand.Text()
	passwordFile := filepath.Join(workdir, "gms-password")
	if err := os.WriteFile(passwordFile, []byte(password), 0o600); err != nil {
		return nil, fmt.Errorf("writing the simulator's password file: %w", err)
	}
	argv := []string{manager, "gms-simulator", "--addr", addr, "--basic-auth-user", gmsUser, "--basic-auth-password-file", passwordFile}
	p, err := sup.start("gms-simulator", argv, os.Environ(), filepath.Join(workdir, "gms-simulator.log"))
	if err != nil {
		return nil, err
	}
	sim := &simulator{proc: p, url: "http://" + addr, password: password}
	if err := waitReady(ctx, sim.url+"/sim/chats", p); err != nil {
		return nil, fmt.Errorf("waiting for the GMS simulator: %w", err)
	}
	return sim, nil
}

// freeAddr returns a loopback address with a port free at the time of the call, and
// never one it returned before: the kernel may hand a port out again once its listener is
// closed, and two processes of the demo (a runner's health port and another runner's API)
// were given the same one, so that one of them could never start.
func freeAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("finding a free port: %w", err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("finding a free port: every port tried was handed out before")
}

// handedOut are the addresses freeAddr returned.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// waitReady polls url until it answers 200; it fails early when p exits.
func waitReady(ctx context.Context, url string, p *proc) error {
	c := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if p != nil && p.exited() {
			return fmt.Errorf("%s %s before answering %s: see %s", p.name, p.exitStatus(), url, p.logPath)
		}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}
