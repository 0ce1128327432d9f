package render_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
)

// rendered is the NetworkPolicy the apply configuration describes, as the API types read it.
func rendered(t *testing.T, gw *chatv1alpha1.GenesysGateway) networkingv1.NetworkPolicy {
	t.Helper()
	raw, err := json.Marshal(render.NetworkPolicy(gw))
	if err != nil {
		t.Fatal(err)
	}
	var np networkingv1.NetworkPolicy
	if err := json.Unmarshal(raw, &np); err != nil {
		t.Fatal(err)
	}
	return np
}

func tcp(port int32) []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(port))}}
}

var runners = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
	MatchLabels: map[string]string{"app.kubernetes.io/name": "chat-runner", "app.kubernetes.io/instance": "acme"},
}}

func TestNetworkPolicyByDefaultAdmitsTheOwnNamespaceAndLabelledMonitoring(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant-acme", UID: "uid-1"}}
	gw.Spec.Domain = "acme"
	np := rendered(t, gw)

	g.Expect(np.Name).To(Equal("acme-runner"))
	g.Expect(np.Namespace).To(Equal("tenant-acme"))
	g.Expect(np.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "genesys-gateway-operator"))
	g.Expect(np.OwnerReferences).To(ConsistOf(HaveField("UID", BeEquivalentTo("uid-1"))))
	g.Expect(np.Spec.PodSelector).To(Equal(*runners.PodSelector))
	g.Expect(np.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}))
	g.Expect(np.Spec.Egress).To(BeEmpty())
	g.Expect(np.Spec.Ingress).To(Equal([]networkingv1.NetworkPolicyIngressRule{
		{Ports: tcp(8080), From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}, runners}},
		{Ports: tcp(9090), From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"metrics": "enabled"},
		}}}},
	}), "no rule for the health port")
}

func TestNetworkPolicyAdmitsTheNamedPeersAndAlwaysTheOwnRunners(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant-acme"}}
	bots := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "bots"}},
		PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"bot", "bot-canary"}},
			{Key: "disabled", Operator: metav1.LabelSelectorOpDoesNotExist},
		}},
	}
	office := networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.20.0.0/16", Except: []string{"10.20.9.0/24"}}}
	anyNamespace := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}
	gw.Spec.Runner.NetworkPolicy = chatv1alpha1.RunnerNetworkPolicy{
		EscalationFrom: []networkingv1.NetworkPolicyPeer{bots, office},
		MetricsFrom:    []networkingv1.NetworkPolicyPeer{anyNamespace},
	}
	np := rendered(t, gw)

	g.Expect(np.Spec.Ingress).To(Equal([]networkingv1.NetworkPolicyIngressRule{
		{Ports: tcp(8080), From: []networkingv1.NetworkPolicyPeer{bots, office, runners}},
		{Ports: tcp(9090), From: []networkingv1.NetworkPolicyPeer{anyNamespace}},
	}), "an empty selector stays empty: it selects everything")
}

func TestNetworkPolicyIsEnabledUnlessSetFalse(t *testing.T) {
	g := NewWithT(t)
	g.Expect(chatv1alpha1.RunnerNetworkPolicy{}.IsEnabled()).To(BeTrue(), "not yet defaulted")
	g.Expect(chatv1alpha1.RunnerNetworkPolicy{Enabled: new(true)}.IsEnabled()).To(BeTrue())
	g.Expect(chatv1alpha1.RunnerNetworkPolicy{Enabled: new(false)}.IsEnabled()).To(BeFalse())
}
