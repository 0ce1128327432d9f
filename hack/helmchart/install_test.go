package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// The image both installs are given: make build-installer IMG=... and helm install --set
// image.repository=...,image.tag=....
const (
	installRepo = "registry.example.com/chat/operator"
	installTag  = "v1.2.3"
)

// envtestAssets is the folder of kube-apiserver and etcd: KUBEBUILDER_ASSETS, else
// bin/k8s/<version>/ of the repository (make envtest); empty when there is none.
func envtestAssets() string {
	have := func(dir string) bool {
		for _, b := range []string{"kube-apiserver", "etcd"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" && have(d) {
		return d
	}
	dirs, _ := filepath.Glob("../../bin/k8s/*")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // the newest version first
	for _, d := range dirs {
		if have(d) {
			if abs, err := filepath.Abs(d); err == nil {
				return abs
			}
		}
	}
	return ""
}

// installerObjects is dist/install.yaml as make build-installer IMG=<installRepo>:<installTag>
// writes it: config/ copied, `kustomize edit set image controller=IMG` in its
// config/manager, then kustomize build of its config/default; and config/admission-policy,
// which the README applies after it.
func installerObjects(t *testing.T) []obj {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	if err := os.CopyFS(dir, os.DirFS(configDir)); err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(dir, "manager", "kustomization.yaml")
	b, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	var k kusttypes.Kustomization
	if err := sigsyaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", kf, err)
	}
	set := false
	for i := range k.Images {
		if k.Images[i].Name == "controller" {
			k.Images[i].NewName, k.Images[i].NewTag, k.Images[i].Digest = installRepo, installTag, ""
			set = true
		}
	}
	if !set {
		t.Fatalf("%s: no image controller to set (make build-installer sets it)", kf)
	}
	if b, err = sigsyaml.Marshal(&k); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out []obj
	for _, sub := range []string{"default", "admission-policy"} {
		nodes, err := Kustomize(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			s, err := n.String()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, parseObjects(t, s)...)
		}
	}
	return out
}

// chartObjects is helm install of the chart with the same image and the admission policy
// on, in the release namespace (which helm install --create-namespace creates).
func chartObjects(t *testing.T) []obj {
	t.Helper()
	objs, _ := render(t, map[string]any{
		"image":        map[string]any{"repository": installRepo, "tag": installTag},
		"runnerImages": map[string]any{"admissionPolicy": map[string]any{"enabled": true}},
	})
	out := make([]obj, 0, len(objs))
	for _, k := range keysOf(objs) {
		out = append(out, objs[k])
	}
	return out
}

// applyOrder applies Namespaces first, then CRDs, then the rest (objects in a namespace
// need it; nothing else here depends on another object existing).
func applyOrder(o obj) int {
	switch o["kind"] {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	}
	return 2
}

// serverObjects are the objects as the API server stored them, by key, for comparison.
type serverObjects map[string]*unstructured.Unstructured

// applyAll creates objs with server-side apply (field manager fieldManager) and reads every
// one back: the API server accepted and stored each (no dry run). CRDs must become
// Established.
func applyAll(t *testing.T, c client.Client, fieldManager string, objs []obj) serverObjects {
	t.Helper()
	ctx := context.Background()
	sorted := append([]obj{}, objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return applyOrder(sorted[i]) < applyOrder(sorted[j]) })
	got := serverObjects{}
	for _, o := range sorted {
		u := &unstructured.Unstructured{Object: deepCopy(o).(obj)}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			t.Errorf("%s: the API server refused it: %v", key(o), err)
			continue
		}
		s := &unstructured.Unstructured{}
		s.SetGroupVersionKind(u.GroupVersionKind())
		if err := c.Get(ctx, types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}, s); err != nil {
			t.Errorf("%s: applied but not stored: %v", key(o), err)
			continue
		}
		if s.GetUID() == "" || s.GetCreationTimestamp().Time.IsZero() {
			t.Errorf("%s: stored without uid or creationTimestamp", key(o))
		}
		got[key(o)] = s
	}
	for k, s := range got {
		if s.GetKind() != "CustomResourceDefinition" {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for !crdEstablished(s) {
			if time.Now().After(deadline) {
				t.Errorf("%s: not Established: %v", k, s.Object["status"])
				break
			}
			time.Sleep(50 * time.Millisecond)
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func crdEstablished(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// deleteAll deletes the objects of got but the Namespaces (envtest runs no namespace
// controller: a deleted Namespace would stay Terminating) and waits until all are gone.
func deleteAll(t *testing.T, c client.Client, got serverObjects) {
	t.Helper()
	ctx := context.Background()
	for k, s := range got {
		if s.GetKind() == "Namespace" {
			continue
		}
		if err := c.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			t.Fatalf("deleting %s: %v", k, err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for k, s := range got {
		if s.GetKind() == "Namespace" {
			continue
		}
		for {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(s.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKeyFromObject(s), u)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still there after its deletion (err %v)", k, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// storedContent is what must be equal between the two installs' stored objects: everything
// but the server's metadata, Helm's labels and annotations, the status and a Service's
// allocated cluster IPs.
func storedContent(u *unstructured.Unstructured) obj {
	o := deepCopy(u.Object).(obj)
	delete(o, "status")
	md := obj{"name": u.GetName()}
	if ns := u.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := u.GetLabels(); len(l) > 0 {
		m := obj{}
		for k, v := range l {
			m[k] = v
		}
		md["labels"] = m
	}
	if a := u.GetAnnotations(); len(a) > 0 {
		m := obj{}
		for k, v := range a {
			m[k] = v
		}
		md["annotations"] = m
	}
	o["metadata"] = md
	if u.GetKind() == "Service" {
		// Allocated by the API server for each creation.
		unstructured.RemoveNestedField(o, "spec", "clusterIP")
		unstructured.RemoveNestedField(o, "spec", "clusterIPs")
	}
	return withoutHelm(o)
}

// TestInstallAccepted applies dist/install.yaml's objects (make build-installer, with the
// admission policy applied after it) and the chart's (helm install with the same image
// and the admission policy on) to a real kube-apiserver and etcd (envtest), one after the
// other with a cleanup between: the API server accepts and stores every object of both, and
// the two stored sets have the same kinds and names (the chart's without the Namespace, left
// to helm install --create-namespace), and, beyond Helm's labels, the same content: RBAC
// rules, the Deployment's pod and container security contexts and everything else, after
// the server's defaulting. Each install's admission policy is in force (it refuses a
// gateway whose runner image is outside the allowed repository). Skipped without kube-apiserver and etcd (make envtest).
func TestInstallAccepted(t *testing.T) {
	assets := envtestAssets()
	if assets == "" {
		t.Skip("no kube-apiserver and etcd: set KUBEBUILDER_ASSETS or build them into bin/k8s/ with make envtest")
	}
	start := time.Now()
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: time.Minute}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	t.Logf("control plane (%s) up in %s", assets, time.Since(start).Round(time.Millisecond))
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	installer := installerObjects(t)
	kust := applyAll(t, c, "kubectl", installer)
	if t.Failed() {
		t.FailNow()
	}
	nsKey := "Namespace/<nil>/" + releaseNS
	if _, ok := kust[nsKey]; !ok {
		t.Fatalf("dist/install.yaml has no %s: %v", nsKey, keysOfServer(kust))
	}
	// config/admission-policy's ConfigMap allows the default image's repository.
	checkAdmissionPolicy(t, c, "ghcr.io/gatewayops/genesys-gateway-operator")
	// The Namespace stays: it is what helm install --create-namespace would find.
	deleteAll(t, c, kust)

	chart := applyAll(t, c, "helm", chartObjects(t))
	if t.Failed() {
		t.FailNow()
	}
	for k, s := range chart {
		if s.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" || s.GetLabels()["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("%s: stored without Helm's labels: %v", k, s.GetLabels())
		}
	}

	checkAdmissionPolicy(t, c, installRepo)

	// Same kinds and names.
	var kKeys, cKeys []string
	for k := range kust {
		if k != nsKey {
			kKeys = append(kKeys, k)
		}
	}
	for k := range chart {
		cKeys = append(cKeys, k)
	}
	sort.Strings(kKeys)
	sort.Strings(cKeys)
	if !reflect.DeepEqual(kKeys, cKeys) {
		t.Fatalf("different objects:\ndist/install.yaml: %v\nchart: %v", kKeys, cKeys)
	}
	kinds := map[string]bool{}
	for _, k := range kKeys {
		kinds[strings.SplitN(k, "/", 2)[0]] = true
	}
	for _, want := range []string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
		"RoleBinding", "Deployment", "Service", "NetworkPolicy", "ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		if !kinds[want] {
			t.Errorf("no %s applied: %v", want, kKeys)
		}
	}

	// RBAC rules and security contexts, named for a readable failure; then everything.
	for _, k := range kKeys {
		ks, cs := kust[k], chart[k]
		switch ks.GetKind() {
		case "ClusterRole", "Role":
			kr, _, _ := unstructured.NestedSlice(ks.Object, "rules")
			cr, _, _ := unstructured.NestedSlice(cs.Object, "rules")
			if !reflect.DeepEqual(kr, cr) {
				t.Errorf("%s: rules differ:\ndist/install.yaml: %v\nchart: %v", k, kr, cr)
			}
		case "ClusterRoleBinding", "RoleBinding":
			for _, f := range []string{"roleRef", "subjects"} {
				if !reflect.DeepEqual(ks.Object[f], cs.Object[f]) {
					t.Errorf("%s: %s differs:\ndist/install.yaml: %v\nchart: %v", k, f, ks.Object[f], cs.Object[f])
				}
			}
		case "Deployment":
			checkSecurityContexts(t, k, ks, cs)
		}
		kc, cc := storedContent(ks), storedContent(cs)
		if k == "ConfigMap/"+releaseNS+"/genesys-gateway-runner-images" {
			// config/admission-policy ships the default image's repository; the chart derives
			// the prefixes from the image it is given.
			if p := get(cc, "data", "prefixes"); p != installRepo {
				t.Errorf("%s: chart's prefixes %v, want %s", k, p, installRepo)
			}
			delete(kc, "data")
			delete(cc, "data")
		}
		if !reflect.DeepEqual(kc, cc) {
			ky, _ := sigsyaml.Marshal(kc)
			cy, _ := sigsyaml.Marshal(cc)
			t.Errorf("%s: stored differently:\ndist/install.yaml:\n%s\nchart:\n%s", k, ky, cy)
		}
	}
	deleteAll(t, c, chart)
	t.Logf("%d objects applied, compared and deleted per install, in %s", len(cKeys), time.Since(start).Round(time.Millisecond))
}

// checkSecurityContexts: the stored Deployments have the same, restricted, pod and
// container security contexts, and the image both installs were given.
func checkSecurityContexts(t *testing.T, k string, ks, cs *unstructured.Unstructured) {
	t.Helper()
	for name, s := range map[string]*unstructured.Unstructured{"dist/install.yaml": ks, "chart": cs} {
		psc, _, _ := unstructured.NestedMap(s.Object, "spec", "template", "spec", "securityContext")
		if psc["runAsNonRoot"] != true || get(psc, "seccompProfile", "type") != "RuntimeDefault" {
			t.Errorf("%s %s: pod securityContext %v, want runAsNonRoot and seccompProfile RuntimeDefault", name, k, psc)
		}
		cs, _, _ := unstructured.NestedSlice(s.Object, "spec", "template", "spec", "containers")
		if len(cs) == 0 {
			t.Errorf("%s %s: no containers", name, k)
		}
		for _, c := range cs {
			m := c.(map[string]any)
			sc, _ := m["securityContext"].(map[string]any)
			if sc["allowPrivilegeEscalation"] != false || !reflect.DeepEqual(get(sc, "capabilities", "drop"), []any{"ALL"}) {
				t.Errorf("%s %s: container %v securityContext %v, want no privilege escalation and every capability dropped", name, k, m["name"], sc)
			}
			if m["name"] == managerContainer && m["image"] != installRepo+":"+installTag {
				t.Errorf("%s %s: image %v, want %s:%s", name, k, m["image"], installRepo, installTag)
			}
		}
	}
	for _, path := range [][]string{{"spec", "template", "spec", "securityContext"}, {"spec", "template", "spec", "containers"}} {
		kv, _, _ := unstructured.NestedFieldNoCopy(ks.Object, path...)
		cv, _, _ := unstructured.NestedFieldNoCopy(cs.Object, path...)
		if !reflect.DeepEqual(kv, cv) {
			t.Errorf("%s: %s differs:\ndist/install.yaml: %v\nchart: %v", k, strings.Join(path, "."), kv, cv)
		}
	}
}

// checkAdmissionPolicy: the stored ValidatingAdmissionPolicy is in force: a gateway whose
// runner image lies outside the allowed repository is refused at creation, with the
// policy's message, and one inside it is created.
func checkAdmissionPolicy(t *testing.T, c client.Client, allowed string) {
	t.Helper()
	ctx := context.Background()
	const ns = "tenant-acme"
	if err := c.Create(ctx, &unstructured.Unstructured{Object: obj{"apiVersion": "v1", "kind": "Namespace",
		"metadata": obj{"name": ns}}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	gateway := func(name, image string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: obj{
			"apiVersion": "chat.gatewayops.io/v1alpha1", "kind": "GenesysGateway",
			"metadata": obj{"name": name, "namespace": ns},
			"spec": obj{"domain": "acme", "runner": obj{"image": image},
				"connection": obj{"serviceURL": "https://gms.acme.example:8443", "serviceName": "customer-support"}},
		}}
	}
	// The API server loads a new policy and its parameters within a second or so.
	deadline := time.Now().Add(15 * time.Second)
	for {
		bad := gateway("refused", "docker.io/library/busybox:latest")
		err := c.Create(ctx, bad)
		if err != nil {
			if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "genesys-gateway-runner-images") ||
				!strings.Contains(err.Error(), "is not allowed: runner images must be in a repository under "+allowed) {
				t.Fatalf("creating a gateway with runner image busybox: %v, want the admission policy's refusal naming %s", err, allowed)
			}
			break
		}
		if err := c.Delete(ctx, bad); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("a gateway with runner image busybox was created: the admission policy is not in force")
		}
		time.Sleep(100 * time.Millisecond)
	}
	good := gateway("allowed", allowed+":v2")
	if err := c.Create(ctx, good); err != nil {
		t.Fatalf("creating a gateway with runner image %s:v2: %v", allowed, err)
	}
	if err := c.Delete(ctx, good); err != nil {
		t.Fatal(err)
	}
}

func keysOfServer(m serverObjects) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
