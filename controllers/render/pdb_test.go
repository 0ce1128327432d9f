package render_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
)

func TestPodDisruptionBudgetAllowsOneRunnerDownAndAlwaysAnUnreadyOne(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant-acme", UID: "uid-1"}}
	gw.Spec.Domain = "acme"
	raw, err := json.Marshal(render.PodDisruptionBudget(gw))
	g.Expect(err).NotTo(HaveOccurred())
	var pdb policyv1.PodDisruptionBudget
	g.Expect(json.Unmarshal(raw, &pdb)).To(Succeed())

	g.Expect(pdb.APIVersion).To(Equal("policy/v1"))
	g.Expect(pdb.Kind).To(Equal("PodDisruptionBudget"))
	g.Expect(pdb.Name).To(Equal("acme-runner"))
	g.Expect(pdb.Namespace).To(Equal("tenant-acme"))
	g.Expect(pdb.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "genesys-gateway-operator"))
	g.Expect(pdb.Labels).To(HaveKeyWithValue("chat.gatewayops.io/domain", "acme"))
	g.Expect(pdb.OwnerReferences).To(ConsistOf(SatisfyAll(
		HaveField("UID", BeEquivalentTo("uid-1")),
		HaveField("Controller", HaveValue(BeTrue())))))
	g.Expect(pdb.Spec.Selector).To(Equal(&metav1.LabelSelector{
		MatchLabels: map[string]string{"app.kubernetes.io/name": "chat-runner", "app.kubernetes.io/instance": "acme"},
	}), "the StatefulSet's pods")
	g.Expect(pdb.Spec.MaxUnavailable).To(Equal(new(intstr.FromInt32(1))))
	g.Expect(pdb.Spec.MinAvailable).To(BeNil(), "maxUnavailable only: it follows a change of replicas")
	g.Expect(pdb.Spec.UnhealthyPodEvictionPolicy).To(HaveValue(Equal(policyv1.AlwaysAllow)))
}
