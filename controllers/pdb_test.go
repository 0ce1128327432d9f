package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The runners' PodDisruptionBudget as the operator applies it. envtest has no disruption
// controller and evicts nothing: these specs check the objects only.
var _ = Describe("Runner PodDisruptionBudget", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	budgetKey := func(gw string) client.ObjectKey { return client.ObjectKey{Namespace: namespace, Name: gw + "-runner"} }
	// budgetOf waits for the gateway's PodDisruptionBudget and returns it.
	budgetOf := func(gw string) *policyv1.PodDisruptionBudget {
		GinkgoHelper()
		pdb := &policyv1.PodDisruptionBudget{}
		Eventually(func() error { return k8sClient.Get(ctx, budgetKey(gw), pdb) }).Should(Succeed())
		return pdb
	}
	expectNoBudget := func(gw string) {
		GinkgoHelper()
		Eventually(func() error { return k8sClient.Get(ctx, budgetKey(gw), &policyv1.PodDisruptionBudget{}) }).
			Should(Satisfy(apierrors.IsNotFound))
	}
	deployed := func(name string, replicas int32) *chatv1alpha1.GenesysGateway {
		gw := minimalGateway(namespace, name)
		gw.Spec.Deploy = true
		gw.Spec.Runner.Replicas = new(replicas)
		return gw
	}
	scale := func(key client.ObjectKey, replicas int32) {
		GinkgoHelper()
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = new(replicas) })
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, budgetKey(key.Name), sts)).To(Succeed())
			g.Expect(sts.Spec.Replicas).To(HaveValue(Equal(replicas)))
		}).Should(Succeed())
	}

	It("lets one runner of two be disrupted, owned by the gateway, and follows the replicas", func() {
		key := create(deployed("acme", 2))
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)

		pdb := budgetOf("acme")
		expectOwnedBy(pdb, getGateway(Default, key))
		Expect(pdb.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "genesys-gateway-operator"))
		Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))
		Expect(pdb.Spec.MinAvailable).To(BeNil())
		Expect(pdb.Spec.UnhealthyPodEvictionPolicy).To(HaveValue(Equal(policyv1.AlwaysAllow)))
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, budgetKey("acme"), sts)).To(Succeed())
		Expect(pdb.Spec.Selector).To(Equal(sts.Spec.Selector), "the StatefulSet's pods")

		By("scaling to one runner, which a budget would keep from ever being evicted")
		scale(key, 1)
		expectNoBudget("acme")

		By("scaling to three runners")
		scale(key, 3)
		expectOwnedBy(budgetOf("acme"), getGateway(Default, key))
	})

	It("is never created for a single runner", func() {
		key := create(deployed("acme", 1))
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Expect(k8sClient.Get(ctx, budgetKey("acme"), &policyv1.PodDisruptionBudget{})).To(Satisfy(apierrors.IsNotFound))
	})

	It("is deleted with the runners when deploy turns false", func() {
		key := create(deployed("acme", 2))
		budgetOf("acme")
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Deploy = false })
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
		expectNoBudget("acme")
	})

	It("leaves a budget of the same name that the gateway does not control", func() {
		theirs := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "acme-runner", Labels: map[string]string{
				"app.kubernetes.io/managed-by": "genesys-gateway-operator",
			}},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(1))},
		}
		Expect(k8sClient.Create(ctx, theirs)).To(Succeed())
		key := create(deployed("acme", 1))
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Get(ctx, budgetKey("acme"), &policyv1.PodDisruptionBudget{})).To(Succeed())
	})

	It("is not written again when reconciling an unchanged gateway", func() {
		key := create(deployed("acme", 2))
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		budgetOf("acme")
		rollOut(budgetKey("acme"), 2)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)

		was := budgetOf("acme").ResourceVersion
		writesBefore := writes.In(namespace)
		for range 3 {
			_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(writes.In(namespace)).To(Equal(writesBefore), "write requests")
		Expect(budgetOf("acme").ResourceVersion).To(Equal(was), "resource version")
	})
})
