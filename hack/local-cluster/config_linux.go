package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// paths are the files and folders of one cluster, all in the state folder.
type paths struct {
	dir, pki, config, logs, etcdData, kubelet, kubeletPKI, podLogs, containerdRoot, cniConf, cniIPAM, adminKubeconfig string
}

func newPaths(dir string) paths {
	return paths{
		dir:             dir,
		pki:             filepath.Join(dir, "pki"),
		config:          filepath.Join(dir, "config"),
		logs:            filepath.Join(dir, "logs"),
		etcdData:        filepath.Join(dir, "etcd"),
		kubelet:         filepath.Join(dir, "kubelet"),
		kubeletPKI:      filepath.Join(dir, "kubelet-pki"),
		podLogs:         filepath.Join(dir, "pod-logs"),
		containerdRoot:  filepath.Join(dir, "containerd"),
		cniConf:         filepath.Join(dir, "cni", "net.d"),
		cniIPAM:         filepath.Join(dir, "cni", "ipam"),
		adminKubeconfig: filepath.Join(dir, "admin.kubeconfig"),
	}
}

func writeJSON(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// containerdConfig is containerd 1.6's (Debian 12) configuration: the CRI plugin with a
// local sandbox image, runc with cgroupfs, overlayfs, and CNI from the state folder.
// restrict_oom_score_adj: these VMs withhold CAP_SYS_RESOURCE even from root, so runc
// cannot lower oom_score_adj and every sandbox would fail ("can't get final child's PID
// from pipe: EOF"). The opt plugin would create /opt/containerd: it goes in the state too.
func containerdConfig(p paths, pauseImage string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`, filepath.Join(p.containerdRoot, "root"), containerdState, containerdSocket,
		filepath.Join(p.containerdRoot, "opt"), pauseImage, cniBinDir, p.cniConf)
}

// cniConfig is the pod network: the bridge cni0 (which up creates with 10.88.0.1/16 before
// the apiserver starts) with host-local addresses and a default route through the bridge,
// so that Service ClusterIPs (DNAT'ed by kube-proxy on the host) work. No masquerading and
// no portmap: nothing leaves the machine, and the plugins add no iptables rules.
func cniConfig(p paths) map[string]any {
	return map[string]any{
		"cniVersion": "1.0.0",
		"name":       clusterName,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      bridgeName,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": podCIDR, "gateway": bridgeIP}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": p.cniIPAM,
			},
		}},
	}
}

// kubeletConfig is v1.37's KubeletConfiguration for this machine. failCgroupV1: false is
// required (the host has cgroup v1 controllers; kubelet exits otherwise). Listens on the
// bridge (10250, for the apiserver) and loopback (healthz); no read-only port. No cluster
// DNS: resolvConf "" gives pods no name servers at all. Images are never garbage collected:
// they are loaded locally and could not be pulled again.
func kubeletConfig(p paths, pk *pki, serving keyPair) map[string]any {
	return map[string]any{
		"apiVersion":                  "kubelet.config.k8s.io/v1beta1",
		"kind":                        "KubeletConfiguration",
		"address":                     bridgeIP,
		"port":                        10250,
		"readOnlyPort":                0,
		"healthzBindAddress":          "127.0.0.1",
		"healthzPort":                 10248,
		"tlsCertFile":                 serving.CertFile,
		"tlsPrivateKeyFile":           serving.KeyFile,
		"authentication":              map[string]any{"anonymous": map[string]any{"enabled": false}, "webhook": map[string]any{"enabled": true}, "x509": map[string]any{"clientCAFile": pk.CAFile}},
		"authorization":               map[string]any{"mode": "Webhook"},
		"cgroupDriver":                "cgroupfs",
		"failCgroupV1":                false,
		"failSwapOn":                  false,
		"containerRuntimeEndpoint":    "unix://" + containerdSocket,
		"imageServiceEndpoint":        "unix://" + containerdSocket,
		"clusterDomain":               "cluster.local",
		"resolvConf":                  "",
		"podLogsDir":                  p.podLogs,
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"rotateCertificates":          false,
		"serverTLSBootstrap":          false,
		// Lowering oom_score_adj needs CAP_SYS_RESOURCE, which these VMs withhold.
		"oomScoreAdj": 0,
	}
}

// kubeProxyConfig: iptables mode; health and metrics on loopback; node ports only on the
// bridge's address; it leaves route_localnet (localhostNodePorts: false) and the conntrack
// sysctls (zeros) as they are.
func kubeProxyConfig(kubeconfig, nodeName string) map[string]any {
	return map[string]any{
		"apiVersion":         "kubeproxy.config.k8s.io/v1alpha1",
		"kind":               "KubeProxyConfiguration",
		"clientConnection":   map[string]any{"kubeconfig": kubeconfig},
		"mode":               "iptables",
		"bindAddress":        bridgeIP,
		"healthzBindAddress": "127.0.0.1:10256",
		"metricsBindAddress": "127.0.0.1:10249",
		"clusterCIDR":        podCIDR,
		"hostnameOverride":   nodeName,
		"nodePortAddresses":  []string{bridgeIP + "/32"},
		"detectLocalMode":    "ClusterCIDR",
		"oomScoreAdj":        0,
		"iptables":           map[string]any{"localhostNodePorts": false, "masqueradeAll": false},
		"conntrack": map[string]any{
			"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s",
			"udpTimeout": "0s", "udpStreamTimeout": "0s", "tcpBeLiberal": false,
		},
	}
}

func etcdArgs(p paths) []string {
	return []string{
		"--name=" + clusterName,
		"--data-dir=" + p.etcdData,
		"--listen-client-urls=http://127.0.0.1:2379",
		"--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=" + clusterName + "=http://127.0.0.1:2380",
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

type apiserverFiles struct {
	serving, kubeletClient keyPair
	saKey, saPub           string
}

func apiserverArgs(p paths, pk *pki, f apiserverFiles) []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=" + bridgeIP,
		"--advertise-address=" + bridgeIP,
		"--secure-port=" + strconv.Itoa(apiserverPort),
		"--cert-dir=" + p.pki,
		"--tls-cert-file=" + f.serving.CertFile,
		"--tls-private-key-file=" + f.serving.KeyFile,
		"--client-ca-file=" + pk.CAFile,
		"--kubelet-client-certificate=" + f.kubeletClient.CertFile,
		"--kubelet-client-key=" + f.kubeletClient.KeyFile,
		"--kubelet-certificate-authority=" + pk.CAFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f.saPub,
		"--service-account-signing-key-file=" + f.saKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		// PodSecurity is on by default; named so that nobody wonders.
		"--enable-admission-plugins=NodeRestriction,PodSecurity",
		"--profiling=false",
	}
}

func controllerManagerArgs(pk *pki, kubeconfig, saKey string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=10257",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + saKey,
		"--root-ca-file=" + pk.CAFile,
		"--cluster-signing-cert-file=" + pk.CAFile,
		"--cluster-signing-key-file=" + filepath.Join(pk.dir, "ca.key"),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allocate-node-cidrs=false",
		"--profiling=false",
	}
}

func schedulerArgs(kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=10259",
		"--leader-elect=false",
		"--profiling=false",
	}
}

// nodeConfigs are the configuration files of the node's daemons.
type nodeConfigs struct {
	containerd, kubelet, kubeProxy string
}

// writeConfigs writes containerd's, the CNI's, kubelet's and kube-proxy's configuration.
func (c *cluster) writeConfigs(certs clusterCerts) (nodeConfigs, error) {
	p := c.p
	conf := nodeConfigs{
		containerd: filepath.Join(p.config, "containerd.toml"),
		kubelet:    filepath.Join(p.config, "kubelet.yaml"),
		kubeProxy:  filepath.Join(p.config, "kube-proxy.yaml"),
	}
	if err := os.WriteFile(conf.containerd, []byte(containerdConfig(p, c.st.PauseImage)), 0o644); err != nil {
		return conf, err
	}
	if err := writeJSON(filepath.Join(p.cniConf, "10-"+clusterName+".conflist"), cniConfig(p)); err != nil {
		return conf, err
	}
	if err := writeJSON(conf.kubelet, kubeletConfig(p, certs.pk, certs.kubeletServing)); err != nil {
		return conf, err
	}
	if err := writeJSON(conf.kubeProxy, kubeProxyConfig(certs.kubeconfigs["kube-proxy"], c.st.NodeName)); err != nil {
		return conf, err
	}
	return conf, nil
}
