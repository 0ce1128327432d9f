//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"
)

// The Helm release the chart check installs, as the README's helm install names it.
const helmRelease = "genesys-gateway-operator"

// checkHelmInstall installs the operator from the Helm chart (charts/genesys-gateway-operator,
// rendered with Helm's Go library by `go run . render` in hack/helmchart: the root module
// has no Helm) as the README's helm install does, with image IMG: applies the manifests
// with server-side apply into the namespace made as helm install --create-namespace and
// the README's label do, waits for the operator Deployment to roll out, expects Helm's
// labels on every object and a tenant's gateway to become Ready; then removes the install
// (but the namespace) and waits for the operator pod to go, so that install() can put the
// kustomize install, whose objects have the same names, in its place.
//
// It runs in BeforeSuite, before install(): the objects' fixed names allow one install at
// a time, and the suite's specs, in random order, all use the kustomize one.
func checkHelmInstall() {
	GinkgoHelper()
	start := time.Now()
	repo, tag := splitImage(cfg.image)
	sv, err := clientset.Discovery().ServerVersion()
	Expect(err).NotTo(HaveOccurred())

	By(fmt.Sprintf("rendering the Helm chart for Kubernetes %s with image %s:%s (go run ./hack/helmchart render)", sv.GitVersion, repo, tag))
	manifests := renderChart("--namespace", operatorNamespace, "--name", helmRelease, "--kube-version", sv.GitVersion,
		"--set", "image.repository="+repo, "--set-string", "image.tag="+tag, "--set", "image.pullPolicy="+string(cfg.pullPolicy))
	objs := parseManifests(manifests)
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
		Expect(o.GetKind()).NotTo(Equal("Namespace"), "the chart's defaults leave the namespace to helm install --create-namespace")
	}
	for _, k := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"ServiceAccount", "Deployment", "Service", "NetworkPolicy"} {
		Expect(kinds).To(HaveKey(k), "the chart renders a %s", k)
	}
	file := filepath.Join(GinkgoT().TempDir(), "helm-manifests.yaml")
	Expect(os.WriteFile(file, []byte(manifests), 0o644)).To(Succeed())

	By("creating namespace " + operatorNamespace + " restricted (helm install --create-namespace and kubectl label, as the README says)")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := k8s.Create(ctx, ns); apierrors.IsAlreadyExists(err) {
		kubectl("label", "namespace", operatorNamespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")
	} else {
		Expect(err).NotTo(HaveOccurred())
	}

	By("applying the chart's manifests (server-side) and waiting for the operator to roll out")
	kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=helm", "-f", file)
	uninstall := func() {
		By("uninstalling the chart's objects (the namespace stays for the kustomize install)")
		kubectl("delete", "-f", file, "--ignore-not-found", "--cascade=foreground", "--wait=true", "--timeout=3m")
		Eventually(func(g Gomega) []corev1.Pod {
			pods := &corev1.PodList{}
			g.Expect(k8s.List(ctx, pods, client.InNamespace(operatorNamespace))).To(Succeed())
			return pods.Items
		}).Should(BeEmpty(), "the Helm-installed operator pod is gone")
		// The gone operator held the leader election lease without releasing it: the next
		// operator would wait for it to expire.
		Expect(k8s.DeleteAllOf(ctx, &coordinationv1.Lease{}, client.InNamespace(operatorNamespace))).To(Succeed())
	}
	installed := true
	DeferCleanup(func() { // on failure: leave the cluster to install()'s kustomize install, or to the next run
		if installed {
			uninstall()
		}
	})
	kubectl("-n", operatorNamespace, "rollout", "status", "deploy/"+operatorDeployment, "--timeout=3m")

	By("every object carries Helm's labels; the operator runs IMG, also as the runners' image")
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed(), "%s %s", o.GetKind(), o.GetName())
		Expect(got.GetLabels()).To(SatisfyAll(
			HaveKeyWithValue("app.kubernetes.io/managed-by", "Helm"),
			HaveKeyWithValue("app.kubernetes.io/instance", helmRelease),
			HaveKeyWithValue("helm.sh/chart", HavePrefix("genesys-gateway-operator-")),
		), "labels of %s %s", o.GetKind(), o.GetName())
	}
	d := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorDeployment}, d)).To(Succeed())
	c := d.Spec.Template.Spec.Containers[0]
	Expect(c.Image).To(Equal(cfg.image))
	Expect(c.ImagePullPolicy).To(Equal(cfg.pullPolicy))
	Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "RUNNER_IMAGE", Value: cfg.image}), "the runners run the operator's image")

	By("a tenant's gateway becomes Ready under the Helm-installed operator")
	t := newTenant()
	expectAvailable(t.gw)
	// Deleted now; AfterSuite waits for it to go (the operator sets no finalizers).
	Expect(k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.ns}})).To(Succeed())

	uninstall()
	installed = false
	say("Helm chart install checked in %s\n", time.Since(start).Round(time.Millisecond))
}

// splitImage splits IMG into the chart's image.repository and image.tag.
func splitImage(ref string) (repo, tag string) {
	GinkgoHelper()
	Expect(ref).NotTo(ContainSubstring("@"), "IMG with a digest: the chart takes image.repository and image.tag")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// renderChart runs `go run . render args...` in hack/helmchart (its own module, with Helm's
// Go library) and returns the manifests it prints.
func renderChart(args ...string) string {
	GinkgoHelper()
	goCmd := envOr("GO", "go")
	c, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, goCmd, append([]string{"run", ".", "render"}, args...)...)
	cmd.Dir = filepath.Join(cfg.root, "hack", "helmchart")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(GinkgoWriter, "$ (cd hack/helmchart && %s run . render %s)\n", goCmd, strings.Join(args, " "))
	Expect(cmd.Run()).To(Succeed(), "hack/helmchart render\nstderr: %s", errOut.String())
	return out.String()
}

// parseManifests splits a multi-document YAML stream into objects.
func parseManifests(stream string) []*unstructured.Unstructured {
	GinkgoHelper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		m := map[string]any{}
		Expect(sigsyaml.Unmarshal([]byte(doc), &m)).To(Succeed(), "rendered document %q", doc)
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	Expect(out).NotTo(BeEmpty(), "the chart rendered nothing")
	return out
}
