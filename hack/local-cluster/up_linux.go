package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// components are the binaries --bin must hold.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// localPorts must be free on loopback (a wildcard listener on the same port would clash
// with the bridge address too).
var localPorts = []string{"2379", "2380", "6443", "10248", "10249", "10250", "10256", "10257", "10259"}

// cluster is one run of up: its options, the record of what it changed (st), the files it
// writes (p) and the daemons it started. The steps of up are methods of it, each in the
// file of its concern: packages, snapshot and sysctls, containment (iptables), network
// (the pod bridge), processes (start and wait), start (the order of the daemons).
type cluster struct {
	o     upOptions
	st    *state
	p     paths
	t0    time.Time
	mu    sync.Mutex
	exits map[string]error // daemons that exited while up waited
	http  *http.Client
}

func (c *cluster) logf(format string, a ...any) {
	fmt.Printf("[%6.2fs] %s\n", time.Since(c.t0).Seconds(), fmt.Sprintf(format, a...))
}

func up(o upOptions) error {
	c := &cluster{o: o, t0: time.Now(), exits: map[string]error{}}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	c.p = newPaths(dir)

	if err := c.preflight(bin, dir); err != nil {
		return fmt.Errorf("%w: %w", err, errNothingChanged)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: %w", err, errNothingChanged)
	}
	baseline, err := mountPoints()
	if err != nil {
		return err
	}
	c.st = &state{
		file: filepath.Join(dir, stateFileName), Version: 1, Dir: dir, Bin: bin,
		NodeName: o.nodeName, PauseImage: o.pauseImage, Started: c.t0, BaselineMounts: baseline,
	}
	if err := c.st.save(); err != nil {
		return err
	}
	c.logf("state folder %s", dir)

	if err := c.installPackages(); err != nil {
		return err
	}
	if err := c.postInstallChecks(); err != nil {
		return err
	}
	if err := c.snapshotHost(); err != nil {
		return err
	}
	if err := c.contain(); err != nil {
		return err
	}
	if err := c.bridge(); err != nil {
		return err
	}
	for _, s := range []string{"net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"} {
		if err := c.setSysctl(s, "1"); err != nil {
			return err
		}
	}
	c.logf("ip_forward and bridge-nf-call-ip(6)tables set to 1")
	return c.startAll()
}

func (c *cluster) preflight(bin, dir string) error {
	for _, b := range components {
		f := filepath.Join(bin, b)
		if fi, err := os.Stat(f); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s missing: build the pinned components first (make cluster-binaries)", f)
		}
	}
	if exists(filepath.Join(dir, stateFileName)) {
		return fmt.Errorf("%s holds a cluster already (or a failed up): run `go run ./hack/local-cluster down --state %s` first", dir, dir)
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	if linkExists(bridgeName) {
		return fmt.Errorf("network interface %s exists already: another cluster or container runtime uses it", bridgeName)
	}
	if socketLive(containerdSocket) {
		return fmt.Errorf("a containerd already serves %s: stop it first", containerdSocket)
	}
	for _, m := range cgroupMounts() {
		if exists(filepath.Join(m, "kubepods")) {
			return fmt.Errorf("%s exists: another kubelet's pods (or a leftover); remove it first", filepath.Join(m, "kubepods"))
		}
	}
	for _, port := range localPorts {
		if !portFree("127.0.0.1:" + port) {
			return fmt.Errorf("port %s is in use on this machine (needed by the cluster: 2379-2380 etcd, 6443 apiserver, 10248-10259 kubelet, kube-proxy, controller-manager, scheduler)", port)
		}
	}
	for _, ch := range containmentChains() {
		if _, err := lookPath(ch.Cmd); err == nil && ch.chainExists() {
			return fmt.Errorf("%s chain %s exists already: run down first", ch.Cmd, ch.Chain)
		}
	}
	return nil
}
