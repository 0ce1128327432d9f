package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// modeStore is the side measuring the durable chat store against a real kube-apiserver
// and etcd (envtest, from -assets).
const modeStore = "store"

// storeReport is the store mode's figures, measured by the parent and both engines.
type storeReport struct {
	first, second *storeResult
	shards        int
	qps           float64 // the engine's client QPS limit; 0 for client-go's default
	secretBytes   int64   // data of the shards (keys and values) before the kill
	secretKeys    int
	killToDerived time.Duration // SIGKILL of the first engine to every chat re-derived by the second
	apiCPU        time.Duration // kube-apiserver and etcd in the window
	machineCPU    time.Duration
	skipped       string // why the store figures were skipped, if they were
}

// runStore runs the store mode: a control plane, the shards as the operator creates them,
// a simulator, then the first engine (killed after its window) and the second.
func runStore(ctx context.Context, cfg config) (*storeReport, error) {
	if why := assetsMissing(cfg.assets); why != "" {
		return &storeReport{skipped: why}, nil
	}
	logf("store: client QPS %g (0: client-go's default)", cfg.storeQPS)
	cp, err := startControlPlane(ctx, cfg, cfg.chats)
	if err != nil {
		return nil, err
	}
	defer cp.stop()
	cfg.kubeconfig = cp.kubeconfig
	cfg.storeState = filepath.Join(cp.dir, "events.json")
	admin := cp.admin
	rep := &storeReport{shards: cp.shards, qps: cfg.storeQPS}

	// No idle timeout: the chats go unpolled between the kill and the resume.
	cfg.simIdleTimeout = 0
	sim, err := startSim(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	cfg.simAddr = sim.addr
	agent := newAgent(sim.addr)
	var api0, busy0 time.Duration
	first, err := runStoreEngine(ctx, cfg, phaseFirst, func(line string, cmd *exec.Cmd) {
		switch {
		case strings.HasPrefix(line, lineMessage):
			go agent.message(strings.TrimPrefix(line, lineMessage))
		case line == lineWindowStart:
			api0, busy0 = controlPlaneCPU(), machineBusy()
		case line == lineWindowEnd:
			rep.apiCPU, rep.machineCPU = controlPlaneCPU()-api0, machineBusy()-busy0
		}
	}, func(cmd *exec.Cmd) error {
		// The window is over and the chats quiet: the store as the engine left it, then
		// the kill.
		var err error
		rep.secretBytes, rep.secretKeys, err = shardData(ctx, admin)
		if err != nil {
			return err
		}
		logf("store: killing the first engine (SIGKILL: no release, no flush)")
		return cmd.Process.Kill()
	})
	if err != nil {
		return nil, fmt.Errorf("the first engine: %w", err)
	}
	first.MessagesFailed = agent.failed.Load()
	killed := time.Now()
	logf("store: starting the second engine: load and resume")
	second, err := runStoreEngine(ctx, cfg, phaseResume, func(line string, _ *exec.Cmd) {
		if line == lineResumed {
			rep.killToDerived = time.Since(killed)
		}
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("the second engine: %w", err)
	}
	rep.first, rep.second = first, second
	return rep, nil
}

// assetsMissing says why the control plane cannot start from assets, or "".
func assetsMissing(assets string) string {
	if assets == "" {
		return "no -assets and no KUBEBUILDER_ASSETS: run `make envtest` and `make bench` (which passes bin/k8s/<version>)"
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return fmt.Sprintf("no %s in %s: run `make envtest`", bin, assets)
		}
	}
	return ""
}

// createShards creates the store of ordinal storeOrdinal as the operator does: n empty
// Secrets with the store's labels.
func createShards(ctx context.Context, c client.Client, n int) error {
	gw := storeGateway()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gw.Namespace}}
	if err := c.Create(ctx, ns); err != nil {
		return err
	}
	for i := range n {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Namespace: gw.Namespace, Name: chatstore.ShardName(gw, storeOrdinal, i),
			Labels: map[string]string{chatstore.LabelStore: chatstore.StoreValue, chatstore.LabelOrdinal: strconv.Itoa(storeOrdinal)},
		}}
		if err := c.Create(ctx, sec); err != nil {
			return err
		}
	}
	return nil
}

// shardData sums the data (keys and values) of the store's shards.
func shardData(ctx context.Context, c client.Client) (bytes int64, keys int, err error) {
	gw := storeGateway()
	var list corev1.SecretList
	if err := c.List(ctx, &list, client.InNamespace(gw.Namespace),
		client.MatchingLabels{chatstore.LabelStore: chatstore.StoreValue, chatstore.LabelOrdinal: strconv.Itoa(storeOrdinal)}); err != nil {
		return 0, 0, err
	}
	for _, s := range list.Items {
		for k, v := range s.Data {
			bytes += int64(len(k) + len(v))
			keys++
		}
	}
	return bytes, keys, nil
}

// runStoreEngine runs one engine of the store mode in a child process: onLine sees its
// protocol lines; onResult, when set, runs once the result is in and ends the process
// (else the process ends on its own).
func runStoreEngine(ctx context.Context, cfg config, phase string, onLine func(string, *exec.Cmd), onResult func(*exec.Cmd) error) (*storeResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{
		"-child", modeStore, "-store-phase", phase, "-chats", strconv.Itoa(cfg.chats),
		"-duration", cfg.duration.String(), "-warmup", cfg.warmup.String(), "-sim-addr", cfg.simAddr,
		"-ramp-rate", strconv.FormatFloat(cfg.rampRate, 'f', -1, 64),
		"-kubeconfig", cfg.kubeconfig, "-store-state", cfg.storeState,
		"-store-message-every", cfg.storeMessageEvery.String(),
		"-store-child-qps", strconv.FormatFloat(cfg.storeQPS, 'f', -1, 64),
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-stopped:
		}
	}()
	var res *storeResult
	var resultErr error
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, lineResult) {
			onLine(line, cmd)
			continue
		}
		res = &storeResult{}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, lineResult)), res); err != nil {
			_ = cmd.Process.Kill()
			return nil, err
		}
		if onResult != nil {
			resultErr = onResult(cmd)
		}
	}
	err = cmd.Wait()
	if resultErr != nil {
		return nil, resultErr
	}
	var exit *exec.ExitError
	if err != nil && (onResult == nil || res == nil || !errors.As(err, &exit)) { // not killed on purpose
		return nil, err
	}
	if res == nil {
		return nil, errors.New("no result")
	}
	return res, nil
}

// controlPlaneCPU is the CPU time so far of this process's kube-apiserver and etcd.
func controlPlaneCPU() time.Duration {
	var total time.Duration
	for _, pid := range controlPlanePIDs() {
		total += procCPU(pid)
	}
	return total
}

// controlPlanePIDs are the kube-apiserver and etcd processes this process started.
func controlPlanePIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm := s[open+1 : end]
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || (comm != "kube-apiserver" && comm != "etcd") {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
