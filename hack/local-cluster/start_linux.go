package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startAll writes the certificates and the components' configuration into the state
// folder, starts the daemons in order (the control plane, then the node) and waits until
// the cluster can run pods.
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
	certs, err := c.writeCertificates()
	if err != nil {
		return err
	}
	conf, err := c.writeConfigs(certs)
	if err != nil {
		return err
	}
	api, err := c.startControlPlane(certs)
	if err != nil {
		return err
	}
	if err := c.startNode(certs, conf); err != nil {
		return err
	}
	if err := c.waitUsable(api); err != nil {
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

// startControlPlane starts etcd and kube-apiserver, each once the previous one is healthy,
// then kube-controller-manager and kube-scheduler. It returns the apiserver's URL.
func (c *cluster) startControlPlane(certs clusterCerts) (string, error) {
	p, pk, f := c.p, certs.pk, certs.apiserver
	if err := c.start("etcd", etcdArgs(p)...); err != nil {
		return "", err
	}
	if err := c.wait("etcd healthy", func() error { return c.get("http://127.0.0.1:2379/health", nil) }); err != nil {
		return "", err
	}
	if err := c.start("kube-apiserver", apiserverArgs(p, pk, f)...); err != nil {
		return "", err
	}
	api := "https://" + net.JoinHostPort(bridgeIP, fmt.Sprint(apiserverPort))
	if err := c.wait("kube-apiserver /readyz", func() error { return c.get(api+"/readyz", nil) }); err != nil {
		return "", err
	}
	if err := c.start("kube-controller-manager", controllerManagerArgs(pk, certs.kubeconfigs["kube-controller-manager"], f.saKey)...); err != nil {
		return "", err
	}
	if err := c.start("kube-scheduler", schedulerArgs(certs.kubeconfigs["kube-scheduler"])...); err != nil {
		return "", err
	}
	return api, nil
}

// startNode starts containerd (and loads the images into it), kube-proxy (before any pod)
// and kubelet.
func (c *cluster) startNode(certs clusterCerts, conf nodeConfigs) error {
	p := c.p
	if err := c.start("containerd", "--config", conf.containerd); err != nil {
		return err
	}
	if err := c.wait("containerd serving", func() error {
		_, err := run(10*time.Second, "ctr", "--address", containerdSocket, "version")
		return err
	}); err != nil {
		return err
	}
	if err := c.importImages(); err != nil {
		return err
	}
	if err := c.start("kube-proxy", "--config", conf.kubeProxy); err != nil {
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
	return c.start("kubelet",
		"--config="+conf.kubelet,
		"--kubeconfig="+certs.kubeconfigs["kubelet"],
		"--root-dir="+p.kubelet,
		"--cert-dir="+p.kubeletPKI,
		"--hostname-override="+c.st.NodeName,
		"--node-ip="+bridgeIP,
	)
}

// waitUsable waits for the node to be Ready, kube-proxy's first sync (then puts the
// containment back in front of its rules) and the default ServiceAccount, and records the
// cluster as ready.
func (c *cluster) waitUsable(api string) error {
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
	return c.st.record(func() { c.st.Ready = true })
}
