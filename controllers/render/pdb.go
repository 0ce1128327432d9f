package render

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// PodDisruptionBudget lets a voluntary disruption (a node drain, an eviction) take at most
// one of a gateway's runners at a time, so that the others keep serving the gateway's bots
// while it is rescheduled. It is meant only for more than one replica: with one, it would
// allow no eviction at all and block every drain of the runner's node.
//
// A runner that is not ready may always be evicted (unhealthyPodEvictionPolicy AlwaysAllow):
// with the default, IfHealthyBudget, a gateway whose runners all fail their readiness probe
// (a deleted token Secret, a gateway that cannot start) would block drains for good, and a
// gateway is tenant input.
func PodDisruptionBudget(gw *chatv1alpha1.GenesysGateway) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(gateway.SelectorLabels(gw))).
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithUnhealthyPodEvictionPolicy(policyv1.AlwaysAllow))
}
