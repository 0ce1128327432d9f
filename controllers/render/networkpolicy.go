package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// MetricsNamespaceLabel is the namespace label, with MetricsNamespaceValue, that admits
// scrapers to the runners' metrics when spec.runner.networkPolicy.metricsFrom is empty:
// the label the operator's own NetworkPolicy (config/network-policy) asks of the
// monitoring namespace, so that one label opens both.
const (
	MetricsNamespaceLabel = "metrics"
	MetricsNamespaceValue = "enabled"
)

// NetworkPolicy isolates a gateway's runner pods: ingress to the escalation API from the
// gateway's bots (spec.runner.networkPolicy.escalationFrom, else its own namespace) and from
// its own runners, which forward a call to the runner that owns the chat; ingress to the
// metrics port from monitoring (metricsFrom, else namespaces labelled metrics: enabled).
// Nothing else may connect. The health port has no rule on purpose: kubelet probes come from
// the pod's own node, whose traffic to its pods NetworkPolicies do not govern (Kubernetes
// documents it as always allowed; Calico and Cilium implement it so), and a rule would only
// open the port to more. Egress is left open: runners call GMS, the Entra ID authority and
// the API server, wherever they are.
func NetworkPolicy(gw *chatv1alpha1.GenesysGateway) *networkingv1ac.NetworkPolicyApplyConfiguration {
	spec := gw.Spec.Runner.NetworkPolicy
	escalation := peers(spec.EscalationFrom, ownNamespace())
	escalation = append(escalation, networkingv1ac.NetworkPolicyPeer().
		WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(gateway.SelectorLabels(gw))))
	metrics := peers(spec.MetricsFrom, networkingv1ac.NetworkPolicyPeer().
		WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{MetricsNamespaceLabel: MetricsNamespaceValue})))

	return networkingv1ac.NetworkPolicy(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(gateway.SelectorLabels(gw))).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(
				networkingv1ac.NetworkPolicyIngressRule().WithPorts(tcpPort(gateway.HTTPPort)).WithFrom(escalation...),
				networkingv1ac.NetworkPolicyIngressRule().WithPorts(tcpPort(gateway.MetricsPort)).WithFrom(metrics...)))
}

// ownNamespace is the peer of every pod in the policy's own namespace: a pod selector that
// selects all, with no namespace selector.
func ownNamespace() *networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	return networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector())
}

// peers converts the gateway's peers into apply configurations, or gives the default
// when there are none.
func peers(from []networkingv1.NetworkPolicyPeer, fallback *networkingv1ac.NetworkPolicyPeerApplyConfiguration) []*networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	if len(from) == 0 {
		return []*networkingv1ac.NetworkPolicyPeerApplyConfiguration{fallback}
	}
	out := make([]*networkingv1ac.NetworkPolicyPeerApplyConfiguration, 0, len(from))
	for _, p := range from {
		peer := networkingv1ac.NetworkPolicyPeer()
		if p.PodSelector != nil {
			peer.WithPodSelector(labelSelector(p.PodSelector))
		}
		if p.NamespaceSelector != nil {
			peer.WithNamespaceSelector(labelSelector(p.NamespaceSelector))
		}
		if p.IPBlock != nil {
			block := networkingv1ac.IPBlock().WithCIDR(p.IPBlock.CIDR)
			if len(p.IPBlock.Except) > 0 {
				block.WithExcept(p.IPBlock.Except...)
			}
			peer.WithIPBlock(block)
		}
		out = append(out, peer)
	}
	return out
}

// labelSelector converts a label selector, keeping an empty one (it selects everything).
func labelSelector(s *metav1.LabelSelector) *metav1ac.LabelSelectorApplyConfiguration {
	ac := metav1ac.LabelSelector()
	if len(s.MatchLabels) > 0 {
		ac.WithMatchLabels(s.MatchLabels)
	}
	for _, e := range s.MatchExpressions {
		ac.WithMatchExpressions(metav1ac.LabelSelectorRequirement().
			WithKey(e.Key).
			WithOperator(e.Operator).
			WithValues(e.Values...))
	}
	return ac
}

// tcpPort is a NetworkPolicy port by number, TCP.
func tcpPort(port int32) *networkingv1ac.NetworkPolicyPortApplyConfiguration {
	return networkingv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolTCP).WithPort(intstr.FromInt32(port))
}
