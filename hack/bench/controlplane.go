package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// controlPlane is a kube-apiserver and etcd (envtest, from -assets) holding the store of
// ordinal storeOrdinal as the operator creates it, for an engine with a durable store.
type controlPlane struct {
	env *envtest.Environment
	// dir holds etcd's data, the kubeconfig and the store mode's state file.
	dir        string
	kubeconfig string
	admin      client.Client
	shards     int
}

// startControlPlane starts the control plane and creates the shards of a store sized for
// chats (the engine's capacity: benchAgents(chats) × chatsPerAgent).
func startControlPlane(ctx context.Context, cfg config, chats int) (*controlPlane, error) {
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "bench-store-")
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{dir: dir}
	logf("starting kube-apiserver and etcd from %s", cfg.assets)
	cp.env = &envtest.Environment{BinaryAssetsDirectory: cfg.assets, UseExistingCluster: ptr.To(false)}
	cp.env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd")}
	if _, err := cp.env.Start(); err != nil {
		cp.stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", cfg.assets, err)
	}
	if err := cp.setUp(ctx, chats); err != nil {
		cp.stop()
		return nil, err
	}
	cp.background()
	return cp, nil
}

// controlPlaneNice is the niceness of kube-apiserver and etcd: a cluster runs them on
// other machines, so here they take the CPU the measured process and the simulator leave
// (their writes are asynchronous to the engine, bar a new chat's first).
const controlPlaneNice = 19

// background renices every thread of kube-apiserver and etcd (threads they start later
// inherit it); called again at the window's start for threads started meanwhile.
func (cp *controlPlane) background() {
	for _, pid := range controlPlanePIDs() {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			continue
		}
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				_ = unix.Setpriority(unix.PRIO_PROCESS, tid, controlPlaneNice)
			}
		}
	}
}

// setUp writes an admin's kubeconfig and creates the shards.
func (cp *controlPlane) setUp(ctx context.Context, chats int) error {
	user, err := cp.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	cp.kubeconfig = filepath.Join(cp.dir, "kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	if cp.admin, err = client.New(user.Config(), client.Options{Scheme: scheme.New()}); err != nil {
		return err
	}
	cp.shards = chatstore.Shards(benchAgents(chats) * chatsPerAgent)
	return createShards(ctx, cp.admin, cp.shards)
}

// stop stops the control plane and removes its files.
func (cp *controlPlane) stop() {
	if cp.env != nil {
		_ = cp.env.Stop()
	}
	_ = os.RemoveAll(cp.dir)
}
