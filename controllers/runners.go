package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// observeRunnerEntries removes the stale entries of status.runners and returns the live
// ones, which alone count towards the gateway's totals and GenesysReachable. Stale entries
// never count, even when their removal failed (it is retried).
//
// An entry is stale when its pod is not one of the runner StatefulSet's pods for the
// desired replicas, <gateway>-runner-0 to <gateway>-runner-<replicas-1>: every entry
// when deploy is false. A StatefulSet's pods have exactly these names, so the rule needs
// no list of pods (the operator caches only its own children). A pod being scaled away
// may write its entry again while it terminates; that write brings the gateway back to
// the operator, which removes the entry again. A suspended gateway is not reconciled, so
// its entries stay as they are.
func (r *GatewayReconciler) observeRunnerEntries(ctx context.Context, gw *chatv1alpha1.GenesysGateway) ([]chatv1alpha1.RunnerStatus, error) {
	live, stale := partitionRunners(gw)
	return live, r.removeStaleRunners(ctx, gw, stale)
}

// partitionRunners returns the live runner entries, and the indexes of the stale ones.
func partitionRunners(gw *chatv1alpha1.GenesysGateway) (live []chatv1alpha1.RunnerStatus, stale []int) {
	replicas := gateway.Replicas(gw)
	pods := make([]string, replicas)
	for i := range pods {
		pods[i] = gateway.RunnerPodName(gw, i)
	}
	for i, entry := range gw.Status.Runners {
		if slices.Contains(pods, entry.Pod) {
			live = append(live, entry)
		} else {
			stale = append(stale, i)
		}
	}
	return live, stale
}

// jsonPatchOp is one operation of a JSON patch (RFC 6902).
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value,omitempty"`
}

// removeStaleRunners removes the entries at the stale indexes with one JSON patch of the
// status subresource: server-side apply cannot remove fields other managers own. Each
// removal, from the last index down, follows a test of the entry's pod, so that a list
// changed since it was read fails the whole patch rather than losing a live runner's
// entry; the reconcile is then retried.
func (r *GatewayReconciler) removeStaleRunners(ctx context.Context, gw *chatv1alpha1.GenesysGateway, stale []int) error {
	if len(stale) == 0 {
		return nil
	}
	var ops []jsonPatchOp
	var pods []string
	for _, i := range slices.Backward(stale) {
		path := fmt.Sprintf("/status/runners/%d", i)
		pod := gw.Status.Runners[i].Pod
		ops = append(ops, jsonPatchOp{Op: "test", Path: path + "/pod", Value: pod}, jsonPatchOp{Op: "remove", Path: path})
		pods = append(pods, pod)
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("encoding the removal of stale runner entries: %w", err)
	}
	target := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Namespace: gw.Namespace, Name: gw.Name}}
	if err := r.Status().Patch(ctx, target, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("removing stale runner entries %v: %w", pods, err)
	}
	logf.FromContext(ctx).Info("Removed stale runner entries", "pods", pods, "desiredRunners", gateway.Replicas(gw))
	return nil
}
