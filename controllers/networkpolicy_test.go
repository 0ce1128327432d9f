package controllers_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The runners' NetworkPolicy as the operator applies it. envtest enforces nothing (and
// neither does the real-cluster suite's bridge network plugin): these specs check the
// objects only.
var _ = Describe("Runner NetworkPolicy", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	policyKey := func(gw string) client.ObjectKey { return client.ObjectKey{Namespace: namespace, Name: gw + "-runner"} }
	tcp := func(port int32) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(port))}}
	}
	runners := func(gw string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"app.kubernetes.io/name": "chat-runner", "app.kubernetes.io/instance": gw},
		}}
	}
	// policyOf waits for the gateway's NetworkPolicy and returns it.
	policyOf := func(gw string) *networkingv1.NetworkPolicy {
		GinkgoHelper()
		np := &networkingv1.NetworkPolicy{}
		Eventually(func() error { return k8sClient.Get(ctx, policyKey(gw), np) }).Should(Succeed())
		return np
	}
	expectNoPolicy := func(gw string) {
		GinkgoHelper()
		Eventually(func() error { return k8sClient.Get(ctx, policyKey(gw), &networkingv1.NetworkPolicy{}) }).
			Should(Satisfy(apierrors.IsNotFound))
	}
	deployed := func(name string) *chatv1alpha1.GenesysGateway {
		gw := minimalGateway(namespace, name)
		gw.Spec.Deploy = true
		return gw
	}

	It("is on by default and admits the gateway's namespace, its runners and labelled monitoring, owned by the gateway", func() {
		key := create(deployed("acme"))
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		gw := getGateway(Default, key)
		Expect(gw.Spec.Runner.NetworkPolicy.Enabled).To(HaveValue(BeTrue()), "enabled reads back true")

		np := policyOf("acme")
		expectOwnedBy(np, gw)
		Expect(np.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "genesys-gateway-operator"))
		Expect(np.Spec.PodSelector).To(Equal(*runners("acme").PodSelector), "the StatefulSet's pods")
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, policyKey("acme"), sts)).To(Succeed())
		Expect(np.Spec.PodSelector).To(Equal(*sts.Spec.Selector))
		Expect(np.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}))
		Expect(np.Spec.Ingress).To(Equal([]networkingv1.NetworkPolicyIngressRule{
			{Ports: tcp(8080), From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}, runners("acme")}},
			{Ports: tcp(9090), From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"metrics": "enabled"},
			}}}},
		}))
	})

	It("admits the peers the gateway names, and follows a change of them", func() {
		bots := networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "acme-bots"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bot"}},
		}
		monitoring := networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"monitoring"}},
			}},
		}
		gw := deployed("acme")
		gw.Spec.Runner.NetworkPolicy = chatv1alpha1.RunnerNetworkPolicy{
			EscalationFrom: []networkingv1.NetworkPolicyPeer{bots},
			MetricsFrom:    []networkingv1.NetworkPolicyPeer{monitoring},
		}
		key := create(gw)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Expect(policyOf("acme").Spec.Ingress).To(Equal([]networkingv1.NetworkPolicyIngressRule{
			{Ports: tcp(8080), From: []networkingv1.NetworkPolicyPeer{bots, runners("acme")}},
			{Ports: tcp(9090), From: []networkingv1.NetworkPolicyPeer{monitoring}},
		}))

		office := networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.20.0.0/16", Except: []string{"10.20.9.0/24"}}}
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.NetworkPolicy.EscalationFrom = []networkingv1.NetworkPolicyPeer{bots, office}
			gw.Spec.Runner.NetworkPolicy.MetricsFrom = nil
		})
		Eventually(func(g Gomega) {
			np := &networkingv1.NetworkPolicy{}
			g.Expect(k8sClient.Get(ctx, policyKey("acme"), np)).To(Succeed())
			g.Expect(np.Spec.Ingress).To(Equal([]networkingv1.NetworkPolicyIngressRule{
				{Ports: tcp(8080), From: []networkingv1.NetworkPolicyPeer{bots, office, runners("acme")}},
				{Ports: tcp(9090), From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"metrics": "enabled"},
				}}}},
			}))
		}).Should(Succeed())
	})

	It("is deleted when disabled, and comes back when enabled again", func() {
		key := create(deployed("acme"))
		policyOf("acme")

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.NetworkPolicy.Enabled = new(false) })
		expectNoPolicy("acme")
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Expect(k8sClient.Get(ctx, policyKey("acme"), &appsv1.StatefulSet{})).To(Succeed(), "the runners stay")

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.NetworkPolicy.Enabled = new(true) })
		expectOwnedBy(policyOf("acme"), getGateway(Default, key))
	})

	It("is never created for a gateway that starts disabled", func() {
		gw := deployed("acme")
		gw.Spec.Runner.NetworkPolicy.Enabled = new(false)
		key := create(gw)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Expect(k8sClient.Get(ctx, policyKey("acme"), &networkingv1.NetworkPolicy{})).To(Satisfy(apierrors.IsNotFound))
	})

	It("is deleted with the runners when deploy turns false", func() {
		key := create(deployed("acme"))
		policyOf("acme")
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Deploy = false })
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
		expectNoPolicy("acme")
	})

	DescribeTable("peers that cannot work are refused by the schema",
		func(mutate func(*chatv1alpha1.RunnerNetworkPolicy), message string) {
			gw := minimalGateway(namespace, "acme")
			gw.Spec.GatewayService = "not-this-operator"
			mutate(&gw.Spec.Runner.NetworkPolicy)
			err := k8sClient.Create(ctx, gw)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("an empty peer", func(p *chatv1alpha1.RunnerNetworkPolicy) {
			p.EscalationFrom = []networkingv1.NetworkPolicyPeer{{}}
		}, "a peer sets either ipBlock, or podSelector and/or namespaceSelector"),
		Entry("an IP block with a selector", func(p *chatv1alpha1.RunnerNetworkPolicy) {
			p.MetricsFrom = []networkingv1.NetworkPolicyPeer{{
				IPBlock:     &networkingv1.IPBlock{CIDR: "10.0.0.0/8"},
				PodSelector: &metav1.LabelSelector{},
			}}
		}, "a peer sets either ipBlock, or podSelector and/or namespaceSelector"),
		Entry("17 peers", func(p *chatv1alpha1.RunnerNetworkPolicy) {
			for i := range 17 {
				p.EscalationFrom = append(p.EscalationFrom, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("10.%d.0.0/16", i)}})
			}
		}, "must have at most 16 items"),
	)
})

// The operator's own NetworkPolicy in config/network-policy, as config/default installs it.
var _ = Describe("config/network-policy", func() {
	It("admits only namespaces labelled metrics: enabled to the operator's metrics port, and config/default includes it", func() {
		var kustomization struct{ Resources []string }
		data, err := os.ReadFile(filepath.Join("..", "config", "default", "kustomization.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(sigsyaml.Unmarshal(data, &kustomization)).To(Succeed())
		Expect(kustomization.Resources).To(ContainElement("../network-policy"))

		var policies []networkingv1.NetworkPolicy
		data, err = os.ReadFile(filepath.Join("..", "config", "network-policy", "kustomization.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(sigsyaml.Unmarshal(data, &kustomization)).To(Succeed())
		for _, file := range kustomization.Resources {
			decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(mustRead("network-policy", file)), 4096)
			for {
				np := networkingv1.NetworkPolicy{}
				if err := decoder.Decode(&np); err != nil {
					break
				}
				policies = append(policies, np)
			}
		}
		Expect(policies).To(HaveLen(1))
		np := policies[0]

		// It selects the operator's pods and admits its metrics port, as config/manager has them.
		var manager *appsv1.Deployment
		decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(mustRead("manager", "manager.yaml")), 4096)
		for {
			d := &appsv1.Deployment{}
			if err := decoder.Decode(d); err != nil {
				break
			}
			if d.Kind == "Deployment" {
				manager = d
			}
		}
		Expect(manager).NotTo(BeNil())
		Expect(np.Namespace).To(Equal(manager.Namespace))
		Expect(np.Spec.PodSelector.MatchLabels).To(Equal(manager.Spec.Template.Labels))
		metricsPort := ""
		for _, arg := range manager.Spec.Template.Spec.Containers[0].Args {
			if after, ok := strings.CutPrefix(arg, "--metrics-bind-address="); ok {
				_, metricsPort, _ = strings.Cut(after, ":")
			}
		}
		Expect(metricsPort).NotTo(BeEmpty())
		Expect(np.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}))
		Expect(np.Spec.Ingress).To(HaveLen(1), "metrics only")
		Expect(np.Spec.Ingress[0].Ports).To(Equal([]networkingv1.NetworkPolicyPort{{
			Protocol: new(corev1.ProtocolTCP), Port: new(intstr.Parse(metricsPort)),
		}}))
		Expect(np.Spec.Ingress[0].From).To(Equal([]networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"metrics": "enabled"},
		}}}))

		// The API server accepts it as shipped.
		np.Namespace = newNamespace()
		Expect(k8sClient.Create(ctx, &np)).To(Succeed())
	})
})

// mustRead reads a file of config/<dir>.
func mustRead(dir, file string) []byte {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("..", "config", dir, file))
	Expect(err).NotTo(HaveOccurred())
	return data
}
