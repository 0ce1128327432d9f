package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// observeRunnerEntries removes the stale entries of status.runners, then makes the
// gateway's totals the sums of the live ones and derives GenesysReachable from them.
// Stale entries never count, even when their removal failed (it is retried).
//
// An entry is stale when its pod is not one of the runner StatefulSet's pods for the
// desired replicas, <gateway>-runner-0 to <gateway>-runner-<replicas-1>: every entry
// when deploy is false. A StatefulSet's pods have exactly these names, so the rule needs
// no list of pods (the operator caches only its own children). A pod being scaled away
// may write its entry again while it terminates; that write brings the gateway back to
// the operator, which removes the entry again. A suspended gateway is not reconciled, so
// its entries stay as they are.
func (r *GatewayReconciler) observeRunnerEntries(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	live, stale := partitionRunners(gw)
	err := r.removeStaleRunners(ctx, gw, stale)
	gw.Status.Runners = live
	sumRunners(&gw.Status)
	observeGenesys(gw)
	return err
}

// partitionRunners returns the live runner entries, and the indexes of the stale ones.
func partitionRunners(gw *chatv1alpha1.GenesysGateway) (live []chatv1alpha1.RunnerStatus, stale []int) {
	replicas := gateway.Replicas(gw)
	pods := make([]string, replicas)
	for i := range pods {
		pods[i] = fmt.Sprintf("%s-%d", gateway.RunnerName(gw), i)
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

// observeGenesys sets GenesysReachable from the live runner entries: False while any
// runner reports an error (AuthenticationFailed when it cannot authenticate), True once one has polled a chat and none reports an error,
// Unknown until then. A runner clears its lastError once its calls succeed again. The
// condition is absent while the gateway is not deployed.
func observeGenesys(gw *chatv1alpha1.GenesysGateway) {
	if !gw.Spec.Deploy {
		meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.GenesysReachableCondition)
		return
	}
	runners := slices.SortedFunc(slices.Values(gw.Status.Runners), func(a, b chatv1alpha1.RunnerStatus) int {
		return cmp.Compare(a.Pod, b.Pod)
	})
	var failing, unauthenticated []string
	polled := false
	for _, entry := range runners {
		if entry.AuthError != "" {
			unauthenticated = append(unauthenticated, entry.Pod+": "+entry.AuthError)
		}
		if entry.LastError != "" {
			failing = append(failing, entry.Pod+": "+entry.LastError)
		}
		polled = polled || entry.LastPollTime != nil
	}
	switch {
	case len(unauthenticated) > 0:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason,
			"Runners cannot authenticate to Genesys: "+strings.Join(unauthenticated, "; "))
	case len(failing) > 0:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason,
			"Runners report Chat API errors: "+strings.Join(failing, "; "))
	case polled:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionTrue, chatv1alpha1.PollSucceededReason,
			"The runners poll their chats on Genesys without errors")
	default:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionUnknown, chatv1alpha1.NoChatsReason,
			"No runner has polled a chat on Genesys yet")
	}
}
