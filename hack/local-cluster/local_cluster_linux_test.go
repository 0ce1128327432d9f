package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests need neither root nor a cluster: they check the pieces up and down are made of.

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/var/lib/a`:             "/var/lib/a",
		`/mnt/with\040space`:     "/mnt/with space",
		`/mnt/back\134slash\011`: "/mnt/back\\slash\t",
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProcStatAndAlive(t *testing.T) {
	start, st, ok := procStat(os.Getpid())
	if !ok || start == 0 || st == 0 {
		t.Fatalf("procStat(self) = %d %q %v", start, st, ok)
	}
	if !alive(proc{PID: os.Getpid(), StartTime: start}) {
		t.Error("this process is not alive")
	}
	// Same PID, another start time: a reused PID is not the recorded process.
	if alive(proc{PID: os.Getpid(), StartTime: start + 1}) {
		t.Error("a different start time counts as alive")
	}
}

func TestUnder(t *testing.T) {
	if !under("/var/lib/x/kubelet", "/var/lib/x") || !under("/var/lib/x", "/var/lib/x/") || under("/var/lib/xy", "/var/lib/x") {
		t.Error("under() is wrong")
	}
}

func TestContainmentChains(t *testing.T) {
	cs := containmentChains()
	if len(cs) != 4 {
		t.Fatalf("%d chains, want filter and mangle for iptables and ip6tables", len(cs))
	}
	for _, c := range cs {
		if c.From != "FORWARD" || c.Jump[len(c.Jump)-1] != containmentChain {
			t.Errorf("%+v: want a jump from FORWARD to %s", c, containmentChain)
		}
		// Only bridge-to-bridge returns; everything else is dropped.
		first, last := strings.Join(c.Rules[0], " "), strings.Join(c.Rules[len(c.Rules)-1], " ")
		if !strings.HasPrefix(first, "-i cni0 -o cni0 ") || !strings.HasSuffix(first, "-j RETURN") || !strings.HasSuffix(last, "-j DROP") {
			t.Errorf("%s rules %q", c.Cmd, c.Rules)
		}
	}
}

func TestPKIAndKubeconfig(t *testing.T) {
	dir := t.TempDir()
	pk, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := pk.issue("apiserver", "kube-apiserver", nil, []string{"kubernetes.default.svc"}, []net.IP{net.ParseIP(bridgeIP), net.ParseIP(kubernetesSvc)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(kp.CertPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pk.ca)
	for _, name := range []string{"10.88.0.1", "10.96.0.1", "kubernetes.default.svc"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}
	client, err := pk.issue("admin", "kubernetes-admin", []string{"system:masters"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "admin.kubeconfig")
	if err := pk.writeKubeconfig(file, "kubernetes-admin", client); err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		CurrentContext string `json:"current-context"`
	}
	raw, _ := os.ReadFile(file)
	if err := json.Unmarshal(raw, &kc); err != nil {
		t.Fatal(err)
	}
	if len(kc.Clusters) != 1 || kc.Clusters[0].Cluster.Server != "https://10.88.0.1:6443" || string(kc.Clusters[0].Cluster.CA) != string(pk.caPEM) || kc.CurrentContext == "" {
		t.Errorf("kubeconfig %s", raw)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600", fi.Mode().Perm())
	}
}

// The listeners must be on loopback or the pod bridge only.
func TestListenAddresses(t *testing.T) {
	p := newPaths(t.TempDir())
	kl := kubeletConfig(p, &pki{CAFile: "ca.crt"}, keyPair{})
	if kl["address"] != bridgeIP || kl["healthzBindAddress"] != "127.0.0.1" || kl["readOnlyPort"] != 0 || kl["failCgroupV1"] != false {
		t.Errorf("kubelet config %v", kl)
	}
	kp := kubeProxyConfig("kp.kubeconfig", "n")
	if kp["healthzBindAddress"] != "127.0.0.1:10256" || kp["metricsBindAddress"] != "127.0.0.1:10249" || kp["mode"] != "iptables" {
		t.Errorf("kube-proxy config %v", kp)
	}
	args := strings.Join(append(append(etcdArgs(p), controllerManagerArgs(&pki{}, "k", "s")...), schedulerArgs("k")...), " ")
	for _, a := range strings.Fields(args) {
		if strings.Contains(a, "0.0.0.0") || (strings.Contains(a, "bind-address") && !strings.HasSuffix(a, "127.0.0.1")) {
			t.Errorf("listener flag %s", a)
		}
	}
	if !strings.Contains(containerdConfig(p, "localhost/pause:e2e"), `stream_server_address = "127.0.0.1"`) {
		t.Error("containerd's stream server is not on loopback")
	}
}
