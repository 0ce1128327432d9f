package live

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// refresh runs after every event of every watch: it follows the gateway's references,
// builds the snapshot and publishes it when its content changed.
func (w *Watcher) refresh() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	gw, _ := w.gatewayObj.get().(*chatv1alpha1.GenesysGateway)
	if gw != nil {
		w.lastGateway = gw
		w.follow(gateway.References(gw))
	}
	snap := w.build(gw == nil && w.lastGateway != nil && w.gatewayObj.state() == listed)
	if prev := w.Current(); snap.version != prev.version {
		w.logChanges(prev, snap)
		w.current.Store(snap)
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	// After publishing: WaitForGateway's callers read Current next.
	if gw != nil && len(snap.pending()) == 0 {
		select {
		case <-w.ready:
		default:
			close(w.ready)
		}
	}
}

// follow starts watching the referenced objects not yet watched and stops watching the
// objects no longer referenced.
func (w *Watcher) follow(refs []gateway.Reference) {
	wanted := map[string]gateway.Reference{}
	for _, r := range refs {
		wanted[objectKey(string(r.Kind), r.Name)] = r
	}
	for key, o := range w.watches {
		if _, ok := wanted[key]; !ok {
			o.stop()
			delete(w.watches, key)
			w.log.Info("Stopped watching reference", "kind", o.kind, "name", o.name)
		}
	}
	for key, r := range wanted {
		if _, ok := w.watches[key]; !ok {
			w.watches[key] = w.startWatch(w.ctx, string(r.Kind), r.Name, w.refresh)
			w.log.Info("Started watching reference", "kind", r.Kind, "name", r.Name, "field", r.Field)
		}
	}
}

// build makes a snapshot of what the watches hold: deep copies, so that nothing the
// informers own leaves the package. A Secret or ConfigMap that does not grant itself to
// the gateway (gateway.Granted) is left out, as if it could not be read: the runner's Role
// loses it at the operator's next reconcile, but the watch's last copy would outlive that,
// and the gateway's author could meanwhile point serviceURL elsewhere.
func (w *Watcher) build(gone bool) *Snapshot {
	snap := &Snapshot{
		gone:       gone,
		Secrets:    map[string]*corev1.Secret{},
		ConfigMaps: map[string]*corev1.ConfigMap{},
		state:      make(map[string]watchState, len(w.watches)),
		ungranted:  map[string]bool{},
	}
	if w.lastGateway != nil {
		snap.Gateway = w.lastGateway.DeepCopy()
	}
	for key, o := range w.watches {
		snap.state[key] = o.state()
		switch obj := o.get().(type) {
		case *corev1.Secret:
			if w.granted(obj) {
				snap.Secrets[o.name] = obj.DeepCopy()
			} else {
				snap.ungranted[key] = true
			}
		case *corev1.ConfigMap:
			if w.granted(obj) {
				snap.ConfigMaps[o.name] = obj.DeepCopy()
			} else {
				snap.ungranted[key] = true
			}
		}
	}
	snap.version = version(snap)
	return snap
}

// version identifies what a snapshot says: the gateway's identity and generation (not its
// status), whether it is gone, and the state and resourceVersion of each referenced
// object.
func version(s *Snapshot) string {
	var b strings.Builder
	if gw := s.Gateway; gw != nil {
		fmt.Fprintf(&b, "%s/%d/%t", gw.UID, gw.Generation, gw.DeletionTimestamp != nil)
	}
	rvs := s.ResourceVersions()
	for _, key := range slices.Sorted(maps.Keys(s.state)) {
		fmt.Fprintf(&b, "|%s=%d:%s", key, s.state[key], rvs[key])
	}
	if s.gone {
		b.WriteString("|gone")
	}
	return b.String()
}

// logChanges logs what changed between two snapshots: generations and resourceVersions,
// never content.
func (w *Watcher) logChanges(prev, next *Snapshot) {
	switch gw := next.Gateway; {
	case gw == nil:
	case prev.Gateway == nil || prev.Gateway.UID != gw.UID:
		w.log.Info("Observed gateway", "generation", gw.Generation, "resourceVersion", gw.ResourceVersion)
	case prev.Gateway.Generation != gw.Generation:
		w.log.Info("Observed gateway change", "generation", gw.Generation, "resourceVersion", gw.ResourceVersion)
	}
	if next.gone && !prev.gone {
		w.log.Info("Observed gateway deletion", "generation", next.Gateway.Generation)
	}
	before, after := prev.ResourceVersions(), next.ResourceVersions()
	for _, key := range slices.Sorted(maps.Keys(next.state)) {
		kind, name, _ := strings.Cut(key, "/")
		rv, exists := after[key]
		switch old, existed := before[key]; {
		case next.state[key] != listed || old == rv:
		case !existed:
			w.log.Info("Observed reference", "kind", kind, "name", name, "resourceVersion", rv)
		case !exists:
			w.log.Info("Observed reference deletion", "kind", kind, "name", name)
		default:
			w.log.Info("Observed reference change", "kind", kind, "name", name, "resourceVersion", rv)
		}
	}
}

// granted tells whether a referenced object grants itself to the watched gateway.
func (w *Watcher) granted(obj metav1.Object) bool {
	return gateway.Granted(obj.GetLabels(), obj.GetAnnotations(), w.gateway.Name)
}
