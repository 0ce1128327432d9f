package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// kubeletPeriod is how often the stand-in looks at the StatefulSet and probes its runners.
const kubeletPeriod = 300 * time.Millisecond

// restartBackoff is the least time between two starts of one pod.
const restartBackoff = 3 * time.Second

// kubelet stands in for the StatefulSet controller and the kubelet, which a bare control
// plane lacks: it runs each pod the runner StatefulSet asks for as a local process (see
// podProcessFor and podEnv), restarts a process that exits, restarts them all when the
// pod template changes (a new generation), and reports the rollout in the StatefulSet's
// status once the pods' readiness probes pass, as the StatefulSet controller would.
type kubelet struct {
	cp      *controlPlane
	sup     *supervisor
	net     *podNetwork
	out     *printer
	key     types.NamespacedName // the StatefulSet
	manager string
	workdir string

	mu         sync.Mutex
	generation int64             // of the pods running; 0 before the first rollout
	pods       []*runningPod     // by ordinal
	ports      map[string]string // pod/port → local address, kept across restarts
	rolledOut  chan struct{}     // closed once every pod of a generation is ready
	probe      *http.Client
	lastStatus appsv1.StatefulSetStatus
}

// runningPod is a pod of the StatefulSet and its current process.
type runningPod struct {
	spec    *podProcess
	proc    *proc
	started time.Time
}

func newKubelet(cp *controlPlane, sup *supervisor, net *podNetwork, out *printer, key types.NamespacedName, manager, workdir string) *kubelet {
	return &kubelet{
		cp: cp, sup: sup, net: net, out: out, key: key, manager: manager, workdir: workdir,
		ports:     map[string]string{},
		rolledOut: make(chan struct{}),
		probe:     &http.Client{Timeout: time.Second},
	}
}

// run reconciles until ctx ends; the processes it started keep running (the supervisor
// stops them).
func (k *kubelet) run(ctx context.Context) {
	tick := time.NewTicker(kubeletPeriod)
	defer tick.Stop()
	var last string // the last error printed, so that a lasting one is printed once
	for {
		err := k.sync(ctx)
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != last:
			k.out.printf("kubelet: %v (retrying)", err)
			last = err.Error()
		case err == nil:
			last = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sync does one round: roll out a new generation, restart exited pods, probe readiness,
// report the status.
func (k *kubelet) sync(ctx context.Context) error {
	sts := &appsv1.StatefulSet{}
	if err := k.cp.client.Get(ctx, k.key, sts); err != nil {
		if apierrors.IsNotFound(err) {
			k.stopPods("the StatefulSet is gone")
			return nil
		}
		return fmt.Errorf("reading StatefulSet %s: %w", k.key, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if sts.Generation != k.generation {
		if err := k.rollOut(sts); err != nil {
			return err
		}
	}
	var ready int32
	for _, p := range k.pods {
		if p.proc.exited() && time.Since(p.started) > restartBackoff {
			k.out.printf("kubelet: %s %s, restarting it; see %s", p.spec.name, p.proc.exitStatus(), p.proc.logPath)
			k.sup.forget(p.proc)
			if err := k.startPod(p); err != nil {
				return err
			}
		}
		if !p.proc.exited() && k.probeReady(ctx, p.spec) {
			ready++
		}
	}
	if err := k.reportStatus(ctx, sts, ready); err != nil {
		return err
	}
	if int(ready) == len(k.pods) && len(k.pods) == int(replicasOf(sts)) {
		select {
		case <-k.rolledOut:
		default:
			close(k.rolledOut)
		}
	}
	return nil
}

// rollOut replaces the running pods with the pods of the StatefulSet's current template.
func (k *kubelet) rollOut(sts *appsv1.StatefulSet) error {
	if k.generation != 0 {
		k.out.printf("kubelet: the pod template changed (generation %d → %d): restarting the runners", k.generation, sts.Generation)
		k.rolledOut = make(chan struct{})
	}
	k.stopPodsLocked()
	for i := range int(replicasOf(sts)) {
		p, err := k.podFor(sts, i)
		if err != nil {
			return err
		}
		if err := k.startPod(p); err != nil {
			return err
		}
		k.pods = append(k.pods, p)
	}
	k.generation = sts.Generation
	return nil
}

// podFor describes pod ordinal and routes its DNS names through the pod network.
func (k *kubelet) podFor(sts *appsv1.StatefulSet, ordinal int) (*runningPod, error) {
	name := fmt.Sprintf("%s-%d", sts.Name, ordinal)
	spec, err := podProcessFor(sts, ordinal, k.manager, func(port int32) (string, error) {
		key := fmt.Sprintf("%s/%d", name, port)
		if addr, ok := k.ports[key]; ok {
			return addr, nil
		}
		addr, err := freeAddr()
		if err != nil {
			return "", err
		}
		k.ports[key] = addr
		return addr, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	sa := sts.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	kubeconfig := filepath.Join(k.workdir, name+".kubeconfig")
	if err := k.cp.serviceAccountKubeconfig(kubeconfig, sts.Namespace, sa); err != nil {
		return nil, err
	}
	spec.env, err = podEnv(sts, name, kubeconfig, k.net.addr)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	for port, addr := range spec.local {
		k.net.route(fmt.Sprintf("%s.%s.%s.svc:%d", name, sts.Spec.ServiceName, sts.Namespace, port), addr)
	}
	return &runningPod{spec: spec}, nil
}

// startPod starts a pod's process.
func (k *kubelet) startPod(p *runningPod) error {
	proc, err := k.sup.start(p.spec.name, p.spec.argv, p.spec.env, filepath.Join(k.workdir, p.spec.name+".log"))
	if err != nil {
		return err
	}
	p.proc, p.started = proc, time.Now()
	k.out.printf("kubelet: started %s (pid %d), log %s", p.spec.name, proc.pid(), proc.logPath)
	return nil
}

// stopPods stops every pod.
func (k *kubelet) stopPods(why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.pods) > 0 {
		k.out.printf("kubelet: %s: stopping the runners", why)
	}
	k.stopPodsLocked()
	k.generation = 0
}

func (k *kubelet) stopPodsLocked() {
	for _, p := range k.pods {
		k.out.printf("kubelet: stopped %s (pid %d): %s", p.spec.name, p.proc.pid(), p.proc.stop())
		k.sup.forget(p.proc)
	}
	k.pods = nil
}

// probeReady runs the pod's readiness probe.
func (k *kubelet) probeReady(ctx context.Context, spec *podProcess) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+spec.readyAddr+spec.readyPath, nil)
	if err != nil {
		return false
	}
	resp, err := k.probe.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// reportStatus writes the StatefulSet's status as its controller would, when it changed.
func (k *kubelet) reportStatus(ctx context.Context, sts *appsv1.StatefulSet, ready int32) error {
	n := int32(len(k.pods))
	want := appsv1.StatefulSetStatus{
		ObservedGeneration: sts.Generation,
		Replicas:           n,
		ReadyReplicas:      ready,
		CurrentReplicas:    n,
		UpdatedReplicas:    n,
		AvailableReplicas:  ready,
		CurrentRevision:    sts.Status.CurrentRevision,
		UpdateRevision:     sts.Status.UpdateRevision,
		CollisionCount:     sts.Status.CollisionCount,
		Conditions:         sts.Status.Conditions,
	}
	if statusEqual(sts.Status, want) {
		return nil
	}
	sts.Status = want
	if err := k.cp.client.Status().Update(ctx, sts); err != nil {
		if apierrors.IsConflict(err) {
			return nil // the operator changed it meanwhile: the next round sees it
		}
		return fmt.Errorf("updating the status of StatefulSet %s: %w", k.key, err)
	}
	if ready != k.lastStatus.ReadyReplicas || sts.Generation != k.lastStatus.ObservedGeneration {
		k.out.printf("kubelet: StatefulSet %s status: %d/%d ready (generation %d)", k.key.Name, ready, n, sts.Generation)
	}
	k.lastStatus = want
	return nil
}

func statusEqual(a, b appsv1.StatefulSetStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas &&
		a.ReadyReplicas == b.ReadyReplicas && a.CurrentReplicas == b.CurrentReplicas &&
		a.UpdatedReplicas == b.UpdatedReplicas && a.AvailableReplicas == b.AvailableReplicas
}

// waitRolledOut waits until every pod of the StatefulSet runs and is ready.
func (k *kubelet) waitRolledOut(ctx context.Context) error {
	k.mu.Lock()
	ch := k.rolledOut
	k.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the runners to be ready (logs: %s): %w", strings.Join(k.logs(), ", "), ctx.Err())
	}
}

// runnerAddrs returns the local address of each pod's container port, by ordinal.
func (k *kubelet) runnerAddrs(port int32) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var addrs []string
	for _, p := range k.pods {
		addrs = append(addrs, p.spec.local[port])
	}
	return addrs
}

// podSpec returns how pod ordinal runs.
func (k *kubelet) podSpec(ordinal int) *podProcess {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ordinal >= len(k.pods) {
		return nil
	}
	return k.pods[ordinal].spec
}

// logs lists the pods' log files.
func (k *kubelet) logs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var logs []string
	for _, p := range k.pods {
		logs = append(logs, p.proc.logPath)
	}
	return logs
}

func replicasOf(sts *appsv1.StatefulSet) int32 {
	if sts.Spec.Replicas == nil {
		return 1
	}
	return *sts.Spec.Replicas
}
