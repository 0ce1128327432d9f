package controllers_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The suite's operator runs with the default policy: the repository of its runner image,
// testImage.
const ownRepository = "registry.example.com/genesys-gateway-operator"

var _ = Describe("Runner image policy", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	It("stalls a gateway whose runner image is outside the allowed repositories, and runs it once it is inside", func() {
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Deploy = true
		// A repository whose name merely starts with the allowed one.
		gw.Spec.Runner.Image = ownRepository + "-evil/chat-runner:v1"
		key := create(gw)

		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.RunnerImageNotAllowedReason)
		Expect(c.Message).To(ContainSubstring(`spec.runner.image "` + ownRepository + `-evil/chat-runner:v1"`))
		Expect(c.Message).To(ContainSubstring("allowed prefixes " + ownRepository))
		stalled := meta.FindStatusCondition(getGateway(Default, key).Status.Conditions, chatv1alpha1.StalledCondition)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
		Expect(stalled.Reason).To(Equal(chatv1alpha1.RunnerImageNotAllowedReason))
		Consistently(func() bool {
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, &appsv1.StatefulSet{})
			return apierrors.IsNotFound(err)
		}).WithTimeout(time.Second).Should(BeTrue(), "no runner runs the image")

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = ownRepository + "/chat-runner:v2"
		})
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, sts)).To(Succeed())
		Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal(ownRepository + "/chat-runner:v2"))
		Expect(meta.FindStatusCondition(getGateway(Default, key).Status.Conditions, chatv1alpha1.StalledCondition)).To(BeNil())
	})

	It("runs another tag of the operator's own image", func() {
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Runner.Image = ownRepository + ":v2"
		key := create(gw)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
	})
})

// The optional admission policy of config/admission-policy, applied to the suite's API
// server: the same rule, before a gateway is stored.
var _ = Describe("Runner image admission policy", Ordered, func() {
	var namespace string
	BeforeAll(func() {
		namespace = newNamespace()
		for _, obj := range admissionPolicyObjects() {
			switch obj.GetKind() {
			case "ConfigMap":
				// The shipped prefixes, in the test's namespace.
				obj.SetNamespace(namespace)
			case "ValidatingAdmissionPolicyBinding":
				// The test's parameters, and its namespace only: the other specs of the
				// suite create gateways meanwhile.
				Expect(unstructured.SetNestedField(obj.Object, namespace, "spec", "paramRef", "namespace")).To(Succeed())
				Expect(unstructured.SetNestedStringMap(obj.Object, map[string]string{corev1.LabelMetadataName: namespace},
					"spec", "matchResources", "namespaceSelector", "matchLabels")).To(Succeed())
			}
			Expect(k8sClient.Create(ctx, obj)).To(Succeed(), obj.GetKind())
			if obj.GetNamespace() == "" {
				DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed()) })
			}
		}
	})

	imageGateway := func(name, image string) *chatv1alpha1.GenesysGateway {
		gw := minimalGateway(namespace, name)
		// Left to another operator: only admission is under test.
		gw.Spec.GatewayService = "not-this-operator"
		gw.Spec.Runner.Image = image
		return gw
	}

	It("refuses a gateway with a runner image outside the allowed repositories, saying which are allowed", func() {
		const image = "ghcr.io/gatewayops/genesys-gateway-operator-evil/runner:v1"
		// The API server loads a new policy and its binding a moment after they are created.
		Eventually(func(g Gomega) {
			err := k8sClient.Create(ctx, imageGateway("probe", image), client.DryRunAll)
			g.Expect(err).To(HaveOccurred())
			g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		}).WithTimeout(30 * time.Second).Should(Succeed())

		err := k8sClient.Create(ctx, imageGateway("evil", image))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(`ValidatingAdmissionPolicy 'genesys-gateway-runner-images'`))
		Expect(err.Error()).To(ContainSubstring(`spec.runner.image "` + image + `" is not allowed: runner images must be in a repository under ghcr.io/gatewayops/genesys-gateway-operator; leave spec.runner.image empty for the operator's own image`))
	})

	It("admits a gateway with an allowed runner image, or none", func() {
		Expect(k8sClient.Create(ctx, imageGateway("own", "ghcr.io/gatewayops/genesys-gateway-operator:v9.9.9"))).To(Succeed())
		Expect(k8sClient.Create(ctx, imageGateway("sub", "ghcr.io/gatewayops/genesys-gateway-operator/runner@sha256:"+
			"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))).To(Succeed())
		Expect(k8sClient.Create(ctx, imageGateway("default", ""))).To(Succeed())
	})

	It("refuses changing an admitted gateway's image to a disallowed one", func() {
		gw := imageGateway("change", "ghcr.io/gatewayops/genesys-gateway-operator:v1")
		Expect(k8sClient.Create(ctx, gw)).To(Succeed())
		gw.Spec.Runner.Image = "docker.io/library/busybox:latest"
		err := k8sClient.Update(ctx, gw)
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(`spec.runner.image "docker.io/library/busybox:latest" is not allowed`))
	})
})

// admissionPolicyObjects reads the resources of config/admission-policy's kustomization.
func admissionPolicyObjects() []*unstructured.Unstructured {
	GinkgoHelper()
	dir := filepath.Join("..", "config", "admission-policy")
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	Expect(yaml.Unmarshal(raw, &kustomization)).To(Succeed())
	Expect(kustomization.Resources).To(HaveLen(3))
	var objs []*unstructured.Unstructured
	for _, name := range kustomization.Resources {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		Expect(err).NotTo(HaveOccurred())
		obj := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(raw, &obj.Object)).To(Succeed(), name)
		objs = append(objs, obj)
	}
	return objs
}
