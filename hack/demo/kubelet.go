package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
// pod template changes (one at a time, as a rolling update), scales without touching the
// other pods when only the replica count changes, and reports the rollout in the StatefulSet's
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
	template   string            // the pod template's hash; empty before the first pod
	pods       []*runningPod     // by ordinal
	ports      map[string]string // pod/port → local address, kept across restarts
	rolledOut  chan struct{}     // closed once every pod of the current template is ready
	probe      *http.Client
	lastStatus appsv1.StatefulSetStatus
}

// runningPod is a pod of the StatefulSet and its current process.
type runningPod struct {
	spec    *podProcess
	proc    *proc
	started time.Time
	// template is the hash of the pod template it was started from.
	template string
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

// sync does one round, as the StatefulSet controller and the kubelet would: scale to the
// replica count (a replicas-only change starts or stops the pods concerned and touches no
// other), replace one out-of-date pod at a time once every pod is ready (a rolling update,
// highest ordinal first, after a pod template change), restart exited pods, probe
// readiness, report the status.
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
	template, err := templateHash(sts)
	if err != nil {
		return err
	}
	if k.template != "" && template != k.template {
		k.out.printf("kubelet: the pod template changed: replacing the runners one at a time, highest ordinal first (a rolling update; each hands its chats over)")
		k.rolledOut = make(chan struct{})
	}
	k.template = template
	if err := k.scale(sts); err != nil {
		return err
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
	updated := k.updated()
	if int(ready) == len(k.pods) && updated < len(k.pods) {
		if err := k.replaceHighestOutdated(sts); err != nil {
			return err
		}
		ready--
	}
	if err := k.reportStatus(ctx, sts, ready, int32(k.updated())); err != nil {
		return err
	}
	if int(ready) == len(k.pods) && len(k.pods) == int(replicasOf(sts)) && k.updated() == len(k.pods) {
		select {
		case <-k.rolledOut:
		default:
			close(k.rolledOut)
		}
	}
	return nil
}

// scale starts the pods of missing ordinals and stops those beyond the replica count,
// highest first; the others run on.
func (k *kubelet) scale(sts *appsv1.StatefulSet) error {
	want := int(replicasOf(sts))
	for len(k.pods) > want {
		p := k.pods[len(k.pods)-1]
		k.out.printf("kubelet: scaled down: stopping %s (pid %d): %s", p.spec.name, p.proc.pid(), p.proc.stop())
		k.sup.forget(p.proc)
		k.pods = k.pods[:len(k.pods)-1]
	}
	for i := len(k.pods); i < want; i++ {
		p, err := k.podFor(sts, i)
		if err != nil {
			return err
		}
		if err := k.startPod(p); err != nil {
			return err
		}
		p.template = k.template
		k.pods = append(k.pods, p)
	}
	return nil
}

// updated counts the pods of the current template.
func (k *kubelet) updated() int {
	n := 0
	for _, p := range k.pods {
		if p.template == k.template {
			n++
		}
	}
	return n
}

// replaceHighestOutdated stops the highest pod of an older template and starts it again
// from the current one.
func (k *kubelet) replaceHighestOutdated(sts *appsv1.StatefulSet) error {
	for i := len(k.pods) - 1; i >= 0; i-- {
		old := k.pods[i]
		if old.template == k.template {
			continue
		}
		k.out.printf("kubelet: rolling update: stopped %s (pid %d): %s", old.spec.name, old.proc.pid(), old.proc.stop())
		k.sup.forget(old.proc)
		p, err := k.podFor(sts, i)
		if err != nil {
			return err
		}
		if err := k.startPod(p); err != nil {
			return err
		}
		p.template = k.template
		k.pods[i] = p
		return nil
	}
	return nil
}

// templateHash identifies a pod template: a change of it is a rolling update, a change of
// the replica count alone is not.
func templateHash(sts *appsv1.StatefulSet) (string, error) {
	b, err := json.Marshal(sts.Spec.Template)
	if err != nil {
		return "", fmt.Errorf("hashing the pod template of %s: %w", sts.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
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
	k.template = ""
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
func (k *kubelet) reportStatus(ctx context.Context, sts *appsv1.StatefulSet, ready, updated int32) error {
	n := int32(len(k.pods))
	want := appsv1.StatefulSetStatus{
		ObservedGeneration: sts.Generation,
		Replicas:           n,
		ReadyReplicas:      ready,
		CurrentReplicas:    n,
		UpdatedReplicas:    updated,
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
