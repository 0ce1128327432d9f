package v1alpha1

import (
	networkingv1 "k8s.io/api/networking/v1"
)

// RunnerNetworkPolicy configures the NetworkPolicy the operator creates for a gateway's
// runner pods, so that tenants do not reach each other's runners. It admits ingress to the
// escalation API (port 8080) from escalationFrom and from the gateway's own runners
// (forwarding a call to the runner that owns the chat), and to the metrics port (9090) from
// metricsFrom; any other ingress to the runners is denied, unless another NetworkPolicy of
// the namespace admits it (policies add up). Egress is not restricted: runners call GMS, the
// Entra ID authority and the API server. The health port needs no rule: kubelet probes come
// from the node, whose traffic to its pods NetworkPolicies do not govern. The policy is
// enforced only where the cluster's network plugin enforces NetworkPolicies.
type RunnerNetworkPolicy struct {
	// enabled makes the operator create the NetworkPolicy <name>-runner. false deletes it,
	// leaving the runners open to every pod the cluster's network allows.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// escalationFrom are the peers allowed to call the escalation API: the tenant's bots.
	// A peer with only a podSelector selects pods of the gateway's namespace; add a
	// namespaceSelector (for example kubernetes.io/metadata.name: <bot namespace>) to
	// admit another namespace. Empty: every pod of the gateway's own namespace.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="has(self.ipBlock) ? !has(self.podSelector) && !has(self.namespaceSelector) : has(self.podSelector) || has(self.namespaceSelector)",message="a peer sets either ipBlock, or podSelector and/or namespaceSelector"
	EscalationFrom []networkingv1.NetworkPolicyPeer `json:"escalationFrom,omitempty"`

	// metricsFrom are the peers allowed to scrape the runners' metrics. Empty: pods of
	// namespaces labelled metrics: enabled (the label the operator's own NetworkPolicy asks
	// of the monitoring namespace, too).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="has(self.ipBlock) ? !has(self.podSelector) && !has(self.namespaceSelector) : has(self.podSelector) || has(self.namespaceSelector)",message="a peer sets either ipBlock, or podSelector and/or namespaceSelector"
	MetricsFrom []networkingv1.NetworkPolicyPeer `json:"metricsFrom,omitempty"`
}

// IsEnabled tells whether the operator creates the NetworkPolicy: unless enabled is
// false. An object not yet defaulted by the API server (as built in Go) counts as enabled.
func (p RunnerNetworkPolicy) IsEnabled() bool {
	return p.Enabled == nil || *p.Enabled
}
