// Command local-cluster starts and stops a real single-node Kubernetes cluster on this Linux
// machine, for the end-to-end tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd, kubelet and kube-proxy, all as plain processes (there is no
// systemd), built from source by the Makefile into one folder (--bin).
//
//	go run ./hack/local-cluster up --bin bin/k8s/v1.37.2 --state /var/lib/genesys-local-cluster
//	go run ./hack/local-cluster down --state /var/lib/genesys-local-cluster
//
// It needs root and Linux. up installs the Debian packages it needs when missing (containerd,
// runc, containernetworking-plugins, iptables, conntrack, socat; down leaves them installed),
// confines the pods to this machine (the FORWARD chain drops everything that does not enter
// and leave the pod bridge, before any pod can start), starts the daemons in their own
// sessions with logs in <state>/logs, waits for the apiserver, the node and the default
// ServiceAccount, and exits leaving them running. The admin kubeconfig is
// <state>/admin.kubeconfig. There is no cluster DNS: use Service ClusterIPs or pod IPs.
//
// Every process it starts and every change it makes to the host is recorded in
// <state>/state.json before or as it is made; down undoes exactly those (and what the
// components themselves changed: kube-proxy's rules, kubelet's mounts and cgroups,
// containerd's containers, network namespaces and veths, the sysctls they set), then removes
// the state folder. down is idempotent and also cleans up after a failed up.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Addresses, names and defaults of the cluster. The pod bridge and its address exist only
// while the cluster is up; every listener is on it or on loopback.
const (
	bridgeName     = "cni0"
	bridgeIP       = "10.88.0.1"
	bridgeCIDR     = "10.88.0.1/16"
	podCIDR        = "10.88.0.0/16"
	serviceCIDR    = "10.96.0.0/12"
	kubernetesSvc  = "10.96.0.1"
	apiserverPort  = 6443
	clusterName    = "genesys-local"
	containmentTag = "genesys-local-cluster"
	// containmentChain is our own chain, jumped to from FORWARD as its first rule (iptables
	// and ip6tables).
	containmentChain = "GENESYS-LC-FORWARD"
	// containerd keeps its default socket and state folder, which ctr and the image tool
	// use without flags; its root (images, snapshots) is in the state folder.
	containerdSocket = "/run/containerd/containerd.sock"
	containerdState  = "/run/containerd"
	cniBinDir        = "/usr/lib/cni"

	defaultState      = "/var/lib/genesys-local-cluster"
	defaultBin        = "bin/k8s/v1.37.2"
	defaultPauseImage = "localhost/pause:e2e"
	defaultNodeName   = "genesys-local"
)

type upOptions struct {
	bin, state, pauseImage, nodeName string
	imageArchives                    []string
	timeout                          time.Duration
}

type downOptions struct {
	state, saveLogs string
	grace           time.Duration
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  go run ./hack/local-cluster up   [--bin DIR] [--state DIR] [--pause-image REF] [--image-archive TAR]... [--node-name NAME] [--timeout D]
  go run ./hack/local-cluster down [--state DIR] [--grace D] [--save-logs DIR]

up starts a single-node cluster (root, Linux) and exits leaving it running; its admin
kubeconfig is <state>/admin.kubeconfig. down stops it and undoes every change up recorded.
Run "up -h" or "down -h" for the flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "up":
		o := upOptions{}
		var archives stringList
		fs := flag.NewFlagSet("up", flag.ExitOnError)
		fs.StringVar(&o.bin, "bin", defaultBin, "folder with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy")
		fs.StringVar(&o.state, "state", defaultState, "state folder: certificates, configs, data, logs and the record of what up changed (must not exist or be empty)")
		fs.StringVar(&o.pauseImage, "pause-image", defaultPauseImage, "containerd's sandbox (pause) image; it is never pulled, so load it (--image-archive, or the image tool's --load)")
		fs.Var(&archives, "image-archive", "image tarball to import into containerd's k8s.io namespace before kubelet starts (repeatable)")
		fs.StringVar(&o.nodeName, "node-name", defaultNodeName, "name of the node")
		fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long each readiness wait may take")
		_ = fs.Parse(args)
		if fs.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "local-cluster up: unexpected arguments %q\n", fs.Args())
			os.Exit(2)
		}
		o.imageArchives = archives
		if err = checkHost(); err == nil {
			err = up(o)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "local-cluster up: %v\n", err)
			if !errors.Is(err, errNothingChanged) {
				fmt.Fprintf(os.Stderr, "The logs are in %s/logs. Undo what was done with:\n  go run ./hack/local-cluster down --state %s\n", o.state, o.state)
			}
			os.Exit(1)
		}
	case "down":
		o := downOptions{}
		fs := flag.NewFlagSet("down", flag.ExitOnError)
		fs.StringVar(&o.state, "state", defaultState, "state folder written by up")
		fs.DurationVar(&o.grace, "grace", 15*time.Second, "how long each process has to exit after SIGTERM before SIGKILL")
		fs.StringVar(&o.saveLogs, "save-logs", "", "copy the daemons' logs into this folder before removing the state folder")
		_ = fs.Parse(args)
		if fs.NArg() > 0 {
			fmt.Fprintf(os.Stderr, "local-cluster down: unexpected arguments %q\n", fs.Args())
			os.Exit(2)
		}
		if err = checkHost(); err == nil {
			err = down(o)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "local-cluster down: %v\n", err)
			os.Exit(1)
		}
	case "help", "-h", "-help", "--help":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "local-cluster: unknown command %q\n\n", cmd)
		usage(os.Stderr)
		os.Exit(2)
	}
}

// errNothingChanged marks an up that failed before it changed anything on the host.
var errNothingChanged = errors.New("nothing was changed")

// checkHost fails fast where the cluster cannot run: it needs Linux and root.
func checkHost() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("needs Linux (this is %s/%s): it runs kubelet, containerd and iptables on the host: %w", runtime.GOOS, runtime.GOARCH, errNothingChanged)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (it installs packages, creates a bridge, changes iptables and sysctls, and runs kubelet and containerd): run it as root or with sudo: %w", errNothingChanged)
	}
	return nil
}
