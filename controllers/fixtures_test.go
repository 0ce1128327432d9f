package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// newNamespace creates a namespace of the test's own.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gg-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// minimalGateway has only the required fields.
func minimalGateway(namespace, name string) *chatv1alpha1.GenesysGateway {
	return &chatv1alpha1.GenesysGateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: chatv1alpha1.GenesysGatewaySpec{
			Domain: "acme",
			Connection: chatv1alpha1.Connection{
				ServiceURL:  "https://gms.example.com:8443",
				ServiceName: "customer-support",
			},
		},
	}
}

// create creates a gateway and returns its key.
func create(gw *chatv1alpha1.GenesysGateway) client.ObjectKey {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, gw)).To(Succeed())
	return client.ObjectKeyFromObject(gw)
}

// newSecret returns a Secret with the given keys, each with a distinct value, granted to
// every gateway of its namespace.
func newSecret(namespace, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: grantAll()},
		StringData: data,
	}
}

// grantAll are the labels that grant a Secret or ConfigMap to every gateway of its
// namespace.
func grantAll() map[string]string {
	return map[string]string{gateway.LabelGrant: gateway.GrantAll}
}

// getGateway reads a gateway as the API server has it.
func getGateway(g Gomega, key client.ObjectKey) *chatv1alpha1.GenesysGateway {
	gw := &chatv1alpha1.GenesysGateway{}
	g.Expect(k8sClient.Get(ctx, key, gw)).To(Succeed())
	return gw
}

// readyOf returns the gateway's Ready condition, once the operator has reconciled its
// current generation.
func readyOf(g Gomega, key client.ObjectKey) *metav1.Condition {
	gw := getGateway(g, key)
	g.Expect(gw.Status.ObservedGeneration).To(Equal(gw.Generation), "status.observedGeneration")
	c := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReadyCondition)
	g.Expect(c).NotTo(BeNil(), "Ready condition")
	g.Expect(c.ObservedGeneration).To(Equal(gw.Generation), "Ready observedGeneration")
	return c
}

// expectReady waits for the Ready condition to have a status and reason, and returns it.
func expectReady(key client.ObjectKey, status metav1.ConditionStatus, reason string) *metav1.Condition {
	GinkgoHelper()
	var c *metav1.Condition
	Eventually(func(g Gomega) {
		c = readyOf(g, key)
		g.Expect(c.Status).To(Equal(status))
		g.Expect(c.Reason).To(Equal(reason))
	}).Should(Succeed())
	return c
}

// eventsOf lists the events.k8s.io events regarding a gateway.
func eventsOf(g Gomega, key client.ObjectKey) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(key.Namespace))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "GenesysGateway" && e.Regarding.Name == key.Name {
			out = append(out, e)
		}
	}
	return out
}

// updateGateway changes a gateway's spec, retrying on conflicts with concurrent status
// writes (the operator's and the runners').
func updateGateway(key client.ObjectKey, change func(*chatv1alpha1.GenesysGateway)) *chatv1alpha1.GenesysGateway {
	GinkgoHelper()
	gw := &chatv1alpha1.GenesysGateway{}
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, key, gw); err != nil {
			return err
		}
		change(gw)
		return k8sClient.Update(ctx, gw)
	})).To(Succeed())
	return gw
}
