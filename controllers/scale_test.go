package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

var _ = Describe("The scale subresource", func() {
	It("scales the runners as kubectl scale and an HPA do, and names their pods' selector", func() {
		gw := minimalGateway(newNamespace(), "acme")
		gw.Spec.Deploy = true
		key := create(gw)

		scale := &autoscalingv1.Scale{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.SubResource("scale").Get(ctx, getGateway(g, key), scale)).To(Succeed())
			g.Expect(scale.Status.Selector).To(Equal(labels.SelectorFromSet(gateway.SelectorLabels(gw)).String()),
				"an HPA finds the runner pods by it")
			g.Expect(scale.Spec.Replicas).To(BeEquivalentTo(1))
			g.Expect(scale.Status.Replicas).To(BeEquivalentTo(1))
		}).Should(Succeed())

		scale.Spec.Replicas = 3
		Expect(k8sClient.SubResource("scale").Update(ctx, getGateway(Default, key), client.WithSubResourceBody(scale))).To(Succeed())
		Expect(*getGateway(Default, key).Spec.Runner.Replicas).To(BeEquivalentTo(3))
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name + "-runner"}, sts)).To(Succeed())
			g.Expect(*sts.Spec.Replicas).To(BeEquivalentTo(3))
			g.Expect(getGateway(g, key).Status.DesiredRunners).To(BeEquivalentTo(3))
		}).Should(Succeed())

		current := getGateway(Default, key)
		Expect(k8sClient.SubResource("scale").Get(ctx, current, scale)).To(Succeed())
		scale.Spec.Replicas = 21
		err := k8sClient.SubResource("scale").Update(ctx, current, client.WithSubResourceBody(scale))
		Expect(err).To(MatchError(ContainSubstring("spec.runner.replicas")), "the schema's bound holds through the scale subresource")
	})
})
