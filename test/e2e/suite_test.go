//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// The suite's inputs (environment):
//
//	KUBECONFIG         the cluster under test (required)
//	IMG                the operator image, already on the nodes (default localhost/genesys-gateway-operator:e2e)
//	IMAGE_PULL_POLICY  of the operator, runner and simulator pods (default IfNotPresent)
//	KUBECTL            kubectl (default bin/k8s/v1.37.2/kubectl, else kubectl on PATH)
//	E2E_SKIP_INSTALL   set: use the operator already installed; neither install nor uninstall it
//	E2E_SKIP_HELM      set: skip the Helm chart install check that precedes the suite's install
//
// go test -tags e2e ./test/e2e/ -v -timeout 30m -ginkgo.v

// The operator as config/default installs it.
const (
	operatorNamespace  = "genesys-gateway-system"
	operatorDeployment = "genesys-gateway-controller-manager"
	operatorLease      = "genesys-gateway-operator.gatewayops.io"
)

var (
	ctx       = context.Background()
	cfg       settings
	k8s       client.WithWatch      // the admin's client: direct, uncached
	clientset *kubernetes.Clientset // for the API server's pod proxy
	// overlayDir is the kustomization the suite installed the operator with; empty when
	// it installed nothing.
	overlayDir string
	// namespaces are the tenant namespaces the suite created, for diagnostics.
	namespaces []string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end suite (a real cluster)")
}

var _ = BeforeSuite(func() {
	// Pods start in a second or two on the local cluster; be generous elsewhere.
	SetDefaultEventuallyTimeout(3 * time.Minute)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	SetDefaultConsistentlyDuration(10 * time.Second)
	SetDefaultConsistentlyPollingInterval(500 * time.Millisecond)
	cfg = loadSettings()
	fmt.Fprintf(GinkgoWriter, "KUBECONFIG=%s IMG=%s IMAGE_PULL_POLICY=%s KUBECTL=%s skipInstall=%v skipHelm=%v\n",
		cfg.kubeconfig, cfg.image, cfg.pullPolicy, cfg.kubectl, cfg.skipInstall, cfg.skipHelm)

	rest, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	rest.QPS, rest.Burst = 50, 100
	k8s, err = client.NewWithWatch(rest, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(rest)
	Expect(err).NotTo(HaveOccurred())

	if cfg.skipInstall {
		By("using the operator already installed (E2E_SKIP_INSTALL)")
	} else {
		if cfg.skipHelm {
			By("skipping the Helm chart install check (E2E_SKIP_HELM)")
		} else {
			checkHelmInstall()
		}
		install()
	}
	By("waiting for the operator Deployment to be Available")
	kubectl("-n", operatorNamespace, "rollout", "status", "deploy/"+operatorDeployment, "--timeout=3m")
	Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorDeployment}, d)).To(Succeed())
		g.Expect(d.Status.Conditions).To(ContainElement(SatisfyAll(
			HaveField("Type", appsv1.DeploymentAvailable), HaveField("Status", corev1.ConditionTrue))))
	}).Should(Succeed())
})

// install applies config/default through an overlay that sets the image, the pull policy
// and RUNNER_IMAGE.
//
// The overlay patches the image instead of using `images: [{name: controller, ...}]`:
// config/manager's own images transformer has already renamed `controller` by the time an
// overlay of config/default runs (so the name no longer matches), and config/default's
// replacement copies the image to RUNNER_IMAGE before an overlay's images transformer would
// run (so RUNNER_IMAGE would keep the old image). Both checked with `kubectl kustomize`.
func install() {
	GinkgoHelper()
	By("installing the operator with image " + cfg.image)
	dir, err := os.MkdirTemp("", "genesys-e2e-overlay-")
	Expect(err).NotTo(HaveOccurred())
	base, err := filepath.Rel(dir, filepath.Join(cfg.root, "config", "default"))
	Expect(err).NotTo(HaveOccurred())
	kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: %s
      namespace: %s
    spec:
      template:
        spec:
          containers:
          - name: manager
            image: %q
            imagePullPolicy: %s
            env:
            - name: RUNNER_IMAGE
              value: %q
`, base, operatorDeployment, operatorNamespace, cfg.image, cfg.pullPolicy, cfg.image)
	Expect(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644)).To(Succeed())
	overlayDir = dir
	kubectl("apply", "--server-side", "--force-conflicts", "-k", dir)

	d := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorDeployment}, d)).To(Succeed())
	c := d.Spec.Template.Spec.Containers[0]
	Expect(c.Image).To(Equal(cfg.image))
	Expect(c.ImagePullPolicy).To(Equal(cfg.pullPolicy))
	Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "RUNNER_IMAGE", Value: cfg.image}), "the runners run the operator's image")
}

var _ = AfterSuite(func() {
	if overlayDir == "" {
		return
	}
	By("waiting for the tenant namespaces to go before uninstalling")
	for _, ns := range namespaces {
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}))
		}).WithTimeout(5*time.Minute).Should(BeTrue(), "namespace %s deleted", ns)
	}
	By("uninstalling the operator")
	kubectl("delete", "-k", overlayDir, "--ignore-not-found", "--wait=true", "--timeout=5m")
	Expect(os.RemoveAll(overlayDir)).To(Succeed())
})

// On failure, dump what explains it: the tenants' objects, pods and logs, the operator's.
var _ = AfterEach(func() {
	if !CurrentSpecReport().Failed() {
		return
	}
	dump := func(args ...string) {
		out, errOut, err := runKubectl(args...)
		fmt.Fprintf(GinkgoWriter, "%s%s", out, errOut)
		if err != nil {
			fmt.Fprintf(GinkgoWriter, "(%v)\n", err)
		}
	}
	for _, ns := range append(append([]string{}, namespaces...), operatorNamespace) {
		fmt.Fprintf(GinkgoWriter, "\n===== diagnostics of namespace %s =====\n", ns)
		dump("-n", ns, "get", "all,genesysgateways,roles,rolebindings,serviceaccounts,secrets,endpointslices", "-o", "wide")
		dump("-n", ns, "get", "genesysgateways", "-o", "yaml")
		dump("-n", ns, "get", "events.events.k8s.io", "--sort-by=.metadata.creationTimestamp")
		dump("-n", ns, "describe", "pods")
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns)); err != nil {
			fmt.Fprintf(GinkgoWriter, "listing pods: %v\n", err)
			continue
		}
		for _, p := range pods.Items {
			fmt.Fprintf(GinkgoWriter, "\n----- logs of pod %s/%s -----\n", ns, p.Name)
			dump("-n", ns, "logs", p.Name, "--all-containers", "--tail=300", "--timestamps")
			dump("-n", ns, "logs", p.Name, "--all-containers", "--tail=100", "--timestamps", "--previous")
		}
	}
})
