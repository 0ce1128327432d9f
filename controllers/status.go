package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// operatorConditions are the condition types the operator owns, GenesysReachable included:
// the operator derives it from the runners' entries. The operator never writes others.
var operatorConditions = []string{
	chatv1alpha1.ReadyCondition,
	chatv1alpha1.ReconcilingCondition,
	chatv1alpha1.StalledCondition,
	chatv1alpha1.CredentialsReadyCondition,
	chatv1alpha1.RunnersAvailableCondition,
	chatv1alpha1.GenesysReachableCondition,
}

// setCondition sets a condition for the gateway's current generation; its transition
// time changes only when its status does.
func setCondition(gw *chatv1alpha1.GenesysGateway, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&gw.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: gw.Generation,
	})
}

// markReady sets Ready, and clears Reconciling and Stalled (kstatus: present only while true).
func markReady(gw *chatv1alpha1.GenesysGateway, status metav1.ConditionStatus, reason, message string) {
	setCondition(gw, chatv1alpha1.ReadyCondition, status, reason, message)
	meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.ReconcilingCondition)
	meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.StalledCondition)
}

// markStalled reports configuration that cannot work until the spec changes.
func markStalled(gw *chatv1alpha1.GenesysGateway, message string) {
	markReady(gw, metav1.ConditionFalse, chatv1alpha1.InvalidConfigurationReason, message)
	setCondition(gw, chatv1alpha1.StalledCondition, metav1.ConditionTrue, chatv1alpha1.InvalidConfigurationReason, message)
}

// markProgressing reports work under way.
func markProgressing(gw *chatv1alpha1.GenesysGateway, message string) {
	markReady(gw, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason, message)
	setCondition(gw, chatv1alpha1.ReconcilingCondition, metav1.ConditionTrue, chatv1alpha1.ProgressingReason, message)
}

// observeRunners reports the runner StatefulSet's rollout: Ready once every desired
// runner of the current revision is ready.
func observeRunners(gw *chatv1alpha1.GenesysGateway, sts *appsv1.StatefulSet) {
	desired := gateway.Replicas(gw)
	gw.Status.DesiredRunners = desired
	gw.Status.ReadyRunners = sts.Status.ReadyReplicas
	rolledOut := sts.Generation > 0 &&
		sts.Status.ObservedGeneration >= sts.Generation &&
		sts.Status.Replicas == desired &&
		sts.Status.UpdatedReplicas == desired &&
		sts.Status.ReadyReplicas == desired
	if rolledOut {
		msg := fmt.Sprintf("%d of %d runners ready", desired, desired)
		setCondition(gw, chatv1alpha1.RunnersAvailableCondition, metav1.ConditionTrue, chatv1alpha1.AvailableReason, msg)
		markReady(gw, metav1.ConditionTrue, chatv1alpha1.AvailableReason, msg)
		return
	}
	msg := fmt.Sprintf("Waiting for runners: %d of %d ready", sts.Status.ReadyReplicas, desired)
	setCondition(gw, chatv1alpha1.RunnersAvailableCondition, metav1.ConditionFalse, chatv1alpha1.ProgressingReason, msg)
	markProgressing(gw, msg)
}

// sumRunners makes the gateway's counters the sums of its runners' entries (the live ones:
// see observeRunnerEntries).
func sumRunners(st *chatv1alpha1.GenesysGatewayStatus) {
	var sum chatv1alpha1.ChatCounters
	for _, r := range st.Runners {
		c := r.ChatCounters
		sum.Agents += c.Agents
		sum.Capacity += c.Capacity
		sum.ActiveChats += c.ActiveChats
		sum.WaitingChats += c.WaitingChats
		sum.ConnectedChats += c.ConnectedChats
		sum.EndedChatsTotal += c.EndedChatsTotal
		sum.FailedChatsTotal += c.FailedChatsTotal
	}
	st.ChatCounters = sum
}

// writeStatus writes the gateway's status once, by server-side apply of the fields the
// operator owns, and not at all when none of them changed. Runner entries are left to
// the runners' own field managers.
func (r *GatewayReconciler) writeStatus(ctx context.Context, gw *chatv1alpha1.GenesysGateway, before *chatv1alpha1.GenesysGatewayStatus) error {
	st := operatorStatus(&gw.Status)
	if equality.Semantic.DeepEqual(operatorStatus(before), st) {
		return nil
	}
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
	if err != nil {
		return fmt.Errorf("converting status: %w", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": fields}}
	u.SetGroupVersionKind(chatv1alpha1.GroupVersion.WithKind("GenesysGateway"))
	u.SetNamespace(gw.Namespace)
	u.SetName(gw.Name)
	if err := r.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}

// operatorStatus is the part of a status the operator owns: all but the runner entries
// and conditions of other types. Its conditions are in the order of operatorConditions, so
// that one removed and set again (Reconciling) does not count as a change.
func operatorStatus(status *chatv1alpha1.GenesysGatewayStatus) *chatv1alpha1.GenesysGatewayStatus {
	st := status.DeepCopy()
	st.Runners = nil
	st.Conditions = slices.DeleteFunc(st.Conditions, func(c metav1.Condition) bool {
		return !slices.Contains(operatorConditions, c.Type)
	})
	slices.SortFunc(st.Conditions, func(a, b metav1.Condition) int {
		return cmp.Compare(slices.Index(operatorConditions, a.Type), slices.Index(operatorConditions, b.Type))
	})
	return st
}
