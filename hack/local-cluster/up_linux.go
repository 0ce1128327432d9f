package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// debianPackages are the node runtime's packages, installed when missing.
var debianPackages = []string{"containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "socat"}

// components are the binaries --bin must hold.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// hostTools must be on the host once the packages are in.
var hostTools = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip6tables", "conntrack", "ip"}

// watchedSysctls are snapshotted before up changes anything and written back by down when
// they differ: up sets the first ones; the bridge plugin sets ip_forward too; kubelet sets
// the vm/kernel ones (protectKernelDefaults is false); kube-proxy is configured to leave
// route_localnet and conntrack alone, but they are watched all the same.
var watchedSysctls = []string{
	"net.ipv4.ip_forward",
	"net.bridge.bridge-nf-call-iptables",
	"net.bridge.bridge-nf-call-ip6tables",
	"net.ipv6.conf.all.forwarding",
	"net.ipv6.conf.default.forwarding",
	"net.ipv4.conf.all.route_localnet",
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
	"net.netfilter.nf_conntrack_max",
	"net.netfilter.nf_conntrack_tcp_timeout_established",
	"net.netfilter.nf_conntrack_tcp_timeout_close_wait",
	"net.netfilter.nf_conntrack_tcp_be_liberal",
	"net.netfilter.nf_conntrack_udp_timeout",
	"net.netfilter.nf_conntrack_udp_timeout_stream",
}

// componentPaths are folders outside the state folder that the daemons create at fixed
// places (containerd's state and shims, CNI's cache, network namespaces, kubelet's log
// links...). down removes those that did not exist before up.
var componentPaths = []string{
	containerdState,
	"/run/netns",
	"/run/kubernetes",
	"/var/lib/cni",
	"/var/log/containers",
	"/var/log/pods",
	"/var/lib/kubelet",
	"/var/lib/containerd",
	"/opt/containerd",
	"/etc/kubernetes",
}

// localPorts must be free on loopback (a wildcard listener on the same port would clash
// with the bridge address too).
var localPorts = []string{"2379", "2380", "6443", "10248", "10249", "10250", "10256", "10257", "10259"}

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

func dpkgInstalled(pkg string) bool {
	out, err := run(30*time.Second, "dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg)
	return err == nil && strings.HasPrefix(out, "ii")
}

// installPackages installs the missing Debian packages and records which; down does not
// remove them.
func (c *cluster) installPackages() error {
	var missing []string
	for _, p := range debianPackages {
		if !dpkgInstalled(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		c.logf("Debian packages present: %s", strings.Join(debianPackages, " "))
		return nil
	}
	if err := c.st.record(func() { c.st.PackagesInstalled = missing }); err != nil {
		return err
	}
	c.logf("installing Debian packages %s (they stay installed after down)", strings.Join(missing, " "))
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	install := func() error {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(hostEnv(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
		return nil
	}
	if err := install(); err != nil {
		c.logf("apt-get install failed; running apt-get update and trying again")
		if out, err := run(5*time.Minute, "apt-get", "update"); err != nil {
			return fmt.Errorf("%w\n%s", err, tail(out, 20))
		}
		if err := install(); err != nil {
			return err
		}
	}
	c.logf("installed %s", strings.Join(missing, " "))
	return nil
}

func (c *cluster) postInstallChecks() error {
	for _, t := range hostTools {
		if _, err := lookPath(t); err != nil {
			return err
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if !exists(filepath.Join(cniBinDir, p)) {
			return fmt.Errorf("CNI plugin %s missing from %s (package containernetworking-plugins)", p, cniBinDir)
		}
	}
	// A containerd started by the package (there is no systemd here, but a host may have one)
	// would own the socket.
	if socketLive(containerdSocket) {
		return fmt.Errorf("a containerd serves %s (started by its package?): stop it first", containerdSocket)
	}
	return nil
}

// snapshotHost records, before any change, the sysctls, the component folders and the nfacct
// counters as they are.
func (c *cluster) snapshotHost() error {
	return c.st.record(func() {
		for _, s := range watchedSysctls {
			if v, ok := readSysctl(s); ok {
				c.st.Sysctls = append(c.st.Sysctls, sysctlValue{Name: s, Prev: v})
			}
		}
		for _, p := range componentPaths {
			c.st.Paths = append(c.st.Paths, pathRecord{Path: p, Existed: exists(p)})
		}
		for _, cmd := range []string{"iptables", "ip6tables"} {
			chains, _ := iptablesChains(cmd)
			for table, names := range chains {
				for _, n := range names {
					if strings.HasPrefix(n, "KUBE-") {
						c.st.KubeChains = append(c.st.KubeChains, cmd+"/"+table+"/"+n)
					}
				}
			}
		}
		for _, n := range kubeProxyNfacctCounters {
			if ok, err := nfacctExists(n); err == nil && !ok {
				c.st.NfacctCounters = append(c.st.NfacctCounters, n)
			}
		}
	})
}

// setSysctl writes a sysctl, recording its previous value first if not yet recorded.
func (c *cluster) setSysctl(name, value string) error {
	prev, ok := readSysctl(name)
	if !ok {
		return fmt.Errorf("sysctl %s does not exist on this kernel (%s)", name, sysctlFile(name))
	}
	known := false
	for _, s := range c.st.Sysctls {
		known = known || s.Name == name
	}
	if !known {
		if err := c.st.record(func() { c.st.Sysctls = append(c.st.Sysctls, sysctlValue{Name: name, Prev: prev}) }); err != nil {
			return err
		}
	}
	if prev == value {
		return nil
	}
	return writeSysctl(name, value)
}

// contain makes FORWARD (IPv4 and IPv6) drop everything that does not both enter and leave
// the pod bridge, before the bridge or any pod exists.
func (c *cluster) contain() error {
	for _, ch := range containmentChains() {
		if err := c.st.record(func() { c.st.Chains = append(c.st.Chains, ch) }); err != nil {
			return err
		}
		if err := ch.create(); err != nil {
			return err
		}
	}
	c.logf("FORWARD containment (filter and mangle, IPv4 and IPv6): first rule jumps to %s, which passes only %s to %s", containmentChain, bridgeName, bridgeName)
	return nil
}

// bridge creates the pod bridge, and routes the Service range through it from the bridge's
// address: kube-proxy rewrites a host connection to a ClusterIP towards a pod, and without
// this route the host would pick its uplink's address as the source, which the pod's reply
// cannot reach. The route goes with the bridge when down deletes it.
func (c *cluster) bridge() error {
	if err := c.st.record(func() { c.st.Bridge = bridgeName }); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", bridgeCIDR, "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
		{"route", "add", serviceCIDR, "dev", bridgeName, "src", bridgeIP},
	} {
		if _, err := run(30*time.Second, "ip", args...); err != nil {
			return err
		}
	}
	if _, ok := readSysctl("net.bridge.bridge-nf-call-iptables"); !ok {
		_, _ = run(30*time.Second, "modprobe", "br_netfilter")
	}
	c.logf("bridge %s %s up; Service range %s routed through it", bridgeName, bridgeCIDR, serviceCIDR)
	return nil
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

func (c *cluster) startAll() error {
	p := c.p
	for _, d := range []string{p.config, p.logs, p.etcdData, p.kubelet, p.kubeletPKI, p.podLogs, p.containerdRoot, p.cniConf, p.cniIPAM} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.Chmod(p.podLogs, 0o755); err != nil {
		return err
	}

	// Certificates and kubeconfigs.
	pk, err := newPKI(p.pki)
	if err != nil {
		return err
	}
	bridge, loop, svc := net.ParseIP(bridgeIP), net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesSvc)
	var f apiserverFiles
	if f.serving, err = pk.issue("apiserver", "kube-apiserver", nil,
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
		[]net.IP{bridge, loop, svc}); err != nil {
		return err
	}
	if f.kubeletClient, err = pk.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil); err != nil {
		return err
	}
	if f.saKey, f.saPub, err = pk.serviceAccountKeys(); err != nil {
		return err
	}
	kubeletServing, err := pk.issue("kubelet-serving", "system:node:"+c.st.NodeName, []string{"system:nodes"}, []string{c.st.NodeName}, []net.IP{bridge})
	if err != nil {
		return err
	}
	kubeconfigs := map[string]string{}
	for _, u := range []struct{ name, cn, org string }{
		{"admin", "kubernetes-admin", "system:masters"},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
		{"kubelet", "system:node:" + c.st.NodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
	} {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		kp, err := pk.issue(u.name, u.cn, orgs, nil, nil)
		if err != nil {
			return err
		}
		file := filepath.Join(p.config, u.name+".kubeconfig")
		if u.name == "admin" {
			file = p.adminKubeconfig
		}
		if err := pk.writeKubeconfig(file, u.cn, kp); err != nil {
			return err
		}
		kubeconfigs[u.name] = file
	}
	admin, err := pk.issue("admin-probe", "kubernetes-admin", []string{"system:masters"}, nil, nil)
	if err != nil {
		return err
	}
	if err := c.httpClient(pk, admin); err != nil {
		return err
	}
	c.logf("certificates and kubeconfigs written to %s", p.pki)

	// Component configuration.
	containerdConf := filepath.Join(p.config, "containerd.toml")
	if err := os.WriteFile(containerdConf, []byte(containerdConfig(p, c.st.PauseImage)), 0o644); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(p.cniConf, "10-"+clusterName+".conflist"), cniConfig(p)); err != nil {
		return err
	}
	kubeletConf := filepath.Join(p.config, "kubelet.yaml")
	if err := writeJSON(kubeletConf, kubeletConfig(p, pk, kubeletServing)); err != nil {
		return err
	}
	proxyConf := filepath.Join(p.config, "kube-proxy.yaml")
	if err := writeJSON(proxyConf, kubeProxyConfig(kubeconfigs["kube-proxy"], c.st.NodeName)); err != nil {
		return err
	}

	// Control plane.
	if err := c.start("etcd", etcdArgs(p)...); err != nil {
		return err
	}
	if err := c.wait("etcd healthy", func() error { return c.get("http://127.0.0.1:2379/health", nil) }); err != nil {
		return err
	}
	if err := c.start("kube-apiserver", apiserverArgs(p, pk, f)...); err != nil {
		return err
	}
	api := "https://" + net.JoinHostPort(bridgeIP, fmt.Sprint(apiserverPort))
	if err := c.wait("kube-apiserver /readyz", func() error { return c.get(api+"/readyz", nil) }); err != nil {
		return err
	}
	if err := c.start("kube-controller-manager", controllerManagerArgs(pk, kubeconfigs["kube-controller-manager"], f.saKey)...); err != nil {
		return err
	}
	if err := c.start("kube-scheduler", schedulerArgs(kubeconfigs["kube-scheduler"])...); err != nil {
		return err
	}

	// Node: containerd, kube-proxy (before any pod), kubelet.
	if err := c.start("containerd", "--config", containerdConf); err != nil {
		return err
	}
	if err := c.wait("containerd serving", func() error {
		_, err := run(10*time.Second, "ctr", "--address", containerdSocket, "version")
		return err
	}); err != nil {
		return err
	}
	for _, a := range c.o.imageArchives {
		t := time.Now()
		if _, err := run(5*time.Minute, "ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "import", a); err != nil {
			return err
		}
		c.logf("imported %s (%.1fs)", a, time.Since(t).Seconds())
	}
	if out, err := run(10*time.Second, "ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "ls", "-q", "name=="+c.st.PauseImage); err != nil || strings.TrimSpace(out) == "" {
		c.logf("WARNING: the pause image %s is not loaded: no pod can start until it is (go run ./hack/image --pause --load)", c.st.PauseImage)
	}
	if err := c.start("kube-proxy", "--config", proxyConf); err != nil {
		return err
	}
	// kubelet's top cgroups, one per hierarchy: none existed (preflight).
	if err := c.st.record(func() {
		for _, m := range cgroupMounts() {
			c.st.CgroupDirs = append(c.st.CgroupDirs, filepath.Join(m, "kubepods"))
		}
	}); err != nil {
		return err
	}
	if err := c.start("kubelet",
		"--config="+kubeletConf,
		"--kubeconfig="+kubeconfigs["kubelet"],
		"--root-dir="+p.kubelet,
		"--cert-dir="+p.kubeletPKI,
		"--hostname-override="+c.st.NodeName,
		"--node-ip="+bridgeIP,
	); err != nil {
		return err
	}
	// Readiness.
	if err := c.wait("node "+c.st.NodeName+" Ready", func() error { return c.nodeReady(api) }); err != nil {
		return err
	}
	// kube-proxy waits for its Node (up to 30 s) before its first sync: it started before
	// kubelet, and no pod can run before the node is Ready. Its first (full) sync prepends
	// its jumps to FORWARD; put ours back in front.
	if err := c.wait("kube-proxy synced (healthz)", func() error { return c.get("http://127.0.0.1:10256/healthz", nil) }); err != nil {
		return err
	}
	if err := c.keepContainmentFirst(true); err != nil {
		return err
	}
	if err := c.wait("ServiceAccount default/default", func() error {
		return c.get(api+"/api/v1/namespaces/default/serviceaccounts/default", nil)
	}); err != nil {
		return err
	}
	if err := c.keepContainmentFirst(false); err != nil {
		return err
	}
	if err := c.st.record(func() { c.st.Ready = true }); err != nil {
		return err
	}
	var changed []string
	for _, s := range c.st.Sysctls {
		if v, ok := readSysctl(s.Name); ok && v != s.Prev {
			changed = append(changed, fmt.Sprintf("%s %s->%s", s.Name, s.Prev, v))
		}
	}
	c.logf("cluster up; sysctls changed (down restores them): %s", strings.Join(changed, ", "))
	fmt.Printf("\nadmin kubeconfig: %s\n  export KUBECONFIG=%s\napiserver: %s  (no cluster DNS: use Service ClusterIPs or pod IPs)\nstop with: go run ./hack/local-cluster down --state %s\n",
		p.adminKubeconfig, p.adminKubeconfig, api, p.dir)
	return nil
}

// keepContainmentFirst puts our jump back in first place of filter FORWARD once kube-proxy's
// first sync has prepended its own: it waits until IPv4 and IPv6 FORWARD hold the same
// KUBE-* jumps, unchanged for a second (at most 20 s), then moves ours if needed. Without
// settle, it only checks and moves.
func (c *cluster) keepContainmentFirst(settle bool) error {
	t := time.Now()
	last, since := "", time.Now()
	for settle && time.Since(t) < 20*time.Second {
		v4, v6 := kubeJumps("iptables"), kubeJumps("ip6tables")
		if cur := v4 + "|" + v6; cur != last {
			last, since = cur, time.Now()
		}
		if v4 != "" && v4 == v6 && time.Since(since) >= time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, ch := range c.st.Chains {
		moved, err := ch.ensureFirst()
		if err != nil {
			return err
		}
		if moved {
			c.logf("%s -t %s: moved the jump to %s back to the first rule of %s", ch.Cmd, ch.Table, ch.Chain, ch.From)
		}
	}
	return nil
}

func (c *cluster) httpClient(pk *pki, kp keyPair) error {
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pk.caPEM)
	c.http = &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
		},
	}
	return nil
}

// get fetches url; a status other than 200 is an error. With into, it decodes JSON.
func (c *cluster) get(url string, into any) error {
	resp, err := c.http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(tail(string(b), 5)))
	}
	if into != nil {
		return json.Unmarshal(b, into)
	}
	return nil
}

func (c *cluster) nodeReady(api string) error {
	var node struct {
		Status struct {
			Conditions []struct{ Type, Status, Reason, Message string } `json:"conditions"`
		} `json:"status"`
	}
	if err := c.get(api+"/api/v1/nodes/"+c.st.NodeName, &node); err != nil {
		return err
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == "Ready" {
			if cond.Status == "True" {
				return nil
			}
			return fmt.Errorf("node Ready=%s: %s %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	return errors.New("node has no Ready condition yet")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func tailFile(f string, n int) string {
	b, err := os.ReadFile(f)
	if err != nil {
		return err.Error()
	}
	return tail(string(b), n)
}
