package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
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
