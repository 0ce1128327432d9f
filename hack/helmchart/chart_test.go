package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	sigsyaml "sigs.k8s.io/yaml"
)

const (
	configDir   = "../../config"
	chartDir    = "../../charts/genesys-gateway-operator"
	releaseNS   = "genesys-gateway-system" // config/default's namespace
	releaseName = "genesys-gateway-operator"
	regenerate  = "the chart is out of date with config/ or hack/helmchart: run make helm-chart and commit charts/"
)

// obj is one rendered or built object.
type obj = map[string]any

func key(o obj) string {
	md, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", o["kind"], md["namespace"], md["name"])
}

// parseObjects splits a multi-document YAML stream into objects, leaving out empty documents.
func parseObjects(t *testing.T, stream string) []obj {
	t.Helper()
	var out []obj
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		var o obj
		if err := sigsyaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("parsing %q: %v", doc, err)
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out
}

// kustomizeObjects is kustomize build dir (the pinned kustomize API, on-disk files).
func kustomizeObjects(t *testing.T, dir string) map[string]obj {
	t.Helper()
	nodes, err := Kustomize(filepath.Join(configDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]obj{}
	for _, n := range nodes {
		s, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range parseObjects(t, s) {
			out[key(o)] = o
		}
	}
	return out
}

// render is helm template of the committed chart with vals (like helm install --dry-run
// --client-only: no cluster), as release genesys-gateway-operator in genesys-gateway-system.
func render(t *testing.T, vals map[string]any) (map[string]obj, string) {
	t.Helper()
	objs, notes, err := tryRender(vals)
	if err != nil {
		t.Fatal(err)
	}
	return objs, notes
}

func tryRender(vals map[string]any) (map[string]obj, string, error) {
	manifest, notes, err := Render(chartDir, releaseName, releaseNS, "v1.37.2", vals)
	if err != nil {
		return nil, "", err
	}
	out := map[string]obj{}
	for _, doc := range strings.Split("\n"+manifest, "\n---") {
		var o obj
		if err := sigsyaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, "", fmt.Errorf("parsing rendered %q: %w", doc, err)
		}
		if len(o) == 0 {
			continue
		}
		if _, dup := out[key(o)]; dup {
			return nil, "", fmt.Errorf("%s rendered twice", key(o))
		}
		out[key(o)] = o
	}
	return out, notes, nil
}

// withoutHelm removes what only Helm adds: its standard labels and its annotations
// (helm.sh/*), dropping labels or annotations left empty.
func withoutHelm(o obj) obj {
	c := deepCopy(o).(obj)
	md, _ := c["metadata"].(map[string]any)
	if l, ok := md["labels"].(map[string]any); ok {
		for _, k := range helmLabels {
			delete(l, k)
		}
		if len(l) == 0 {
			delete(md, "labels")
		}
	}
	if a, ok := md["annotations"].(map[string]any); ok {
		for k := range a {
			if strings.HasPrefix(k, "helm.sh/") {
				delete(a, k)
			}
		}
		if len(a) == 0 {
			delete(md, "annotations")
		}
	}
	return c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func keysOf(m map[string]obj) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// compare fails for every object in one set and not the other, and every object whose
// content differs beyond Helm's labels and annotations.
func compare(t *testing.T, chart, want map[string]obj) {
	t.Helper()
	for _, k := range keysOf(want) {
		got, ok := chart[k]
		if !ok {
			t.Errorf("%s: built by kustomize, not rendered by the chart; %s", k, regenerate)
			continue
		}
		if g := withoutHelm(got); !reflect.DeepEqual(g, want[k]) {
			gy, _ := sigsyaml.Marshal(g)
			wy, _ := sigsyaml.Marshal(want[k])
			t.Errorf("%s differs; %s\nchart:\n%s\nkustomize:\n%s", k, regenerate, gy, wy)
		}
	}
	for _, k := range keysOf(chart) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: rendered by the chart, not built by kustomize; %s", k, regenerate)
		}
	}
}

// TestChartIsGenerated: the committed chart is what make helm-chart writes from config/ now.
func TestChartIsGenerated(t *testing.T) {
	got, err := ReadChart(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	// The committed chart version, which a release may set (make helm-chart
	// CHART_VERSION=...).
	var meta struct {
		Version string `json:"version"`
	}
	if err := sigsyaml.Unmarshal(got["Chart.yaml"], &meta); err != nil || meta.Version == "" {
		t.Fatalf("Chart.yaml: version %q, %v", meta.Version, err)
	}
	want, err := Generate(configDir, meta.Version)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: missing; %s", name, regenerate)
		} else if !bytes.Equal(g, b) {
			t.Errorf("%s: differs from what the generator writes; %s", name, regenerate)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: not written by the generator; %s", name, regenerate)
		}
	}
}

// TestChartMatchesKustomize: the chart with its default values renders the objects of
// kustomize build config/default (dist/install.yaml with the default image), object by
// object, except the Namespace, which Helm leaves to --create-namespace; with
// namespace.create the Namespace too.
func TestChartMatchesKustomize(t *testing.T) {
	want := kustomizeObjects(t, "default")
	nsKey := "Namespace/<nil>/" + releaseNS
	if _, ok := want[nsKey]; !ok {
		t.Fatalf("kustomize build config/default has no %s: %v", nsKey, keysOf(want))
	}

	t.Run("defaults", func(t *testing.T) {
		chart, _ := render(t, nil)
		w := map[string]obj{}
		for k, o := range want {
			if k != nsKey {
				w[k] = o
			}
		}
		compare(t, chart, w)
	})
	t.Run("namespace.create", func(t *testing.T) {
		chart, _ := render(t, map[string]any{"namespace": map[string]any{"create": true}})
		compare(t, chart, want)
	})
	// The optional admission policy is config/admission-policy, its ConfigMap's prefixes the
	// operator's repository.
	t.Run("admission policy", func(t *testing.T) {
		chart, _ := render(t, map[string]any{"namespace": map[string]any{"create": true},
			"runnerImages": map[string]any{"admissionPolicy": map[string]any{"enabled": true}}})
		w := map[string]obj{}
		for k, o := range want {
			w[k] = o
		}
		for k, o := range kustomizeObjects(t, "admission-policy") {
			w[k] = o
		}
		compare(t, chart, w)
	})
	// rbac.namespaced with the overlay's namespace is config/overlays/namespaced.
	t.Run("namespaced", func(t *testing.T) {
		chart, _ := render(t, map[string]any{"namespace": map[string]any{"create": true},
			"rbac": map[string]any{"namespaced": true}, "watchNamespaces": []any{"tenant-acme"}})
		compare(t, chart, kustomizeObjects(t, "overlays/namespaced"))
	})
}

// TestLint is helm lint (strict: warnings fail too) of the chart with its defaults and with
// every optional part on.
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"defaults": nil,
		"all on": {
			"namespace":       map[string]any{"create": true},
			"metrics":         map[string]any{"serviceMonitor": map[string]any{"enabled": true, "interval": "30s"}},
			"runnerImages":    map[string]any{"allowed": []any{"registry.example.com/chat"}, "admissionPolicy": map[string]any{"enabled": true}},
			"rbac":            map[string]any{"namespaced": true},
			"watchNamespaces": []any{"tenant-a", "tenant-b"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			for _, kv := range []string{"v1.30.0", "v1.37.2"} {
				v, err := chartutil.ParseKubeVersion(kv)
				if err != nil {
					t.Fatal(err)
				}
				l := lint.AllWithKubeVersion(chartDir, vals, releaseNS, v)
				for _, m := range l.Messages {
					if m.Severity >= support.WarningSev {
						t.Errorf("helm lint (Kubernetes %s): %s", kv, m)
					} else {
						t.Logf("helm lint (Kubernetes %s): %s", kv, m)
					}
				}
			}
		})
	}
}

func get(o obj, path ...string) any {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func container(t *testing.T, objs map[string]obj) map[string]any {
	t.Helper()
	d, ok := objs["Deployment/"+releaseNS+"/genesys-gateway-controller-manager"]
	if !ok {
		t.Fatalf("no Deployment: %v", keysOf(objs))
	}
	cs, _ := get(d, "spec", "template", "spec", "containers").([]any)
	for _, c := range cs {
		if m := c.(map[string]any); m["name"] == "manager" {
			return m
		}
	}
	t.Fatal("no manager container")
	return nil
}

func args(c map[string]any) []string {
	var out []string
	for _, a := range c["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func env(c map[string]any, name string) any {
	for _, e := range c["env"].([]any) {
		if m := e.(map[string]any); m["name"] == name {
			return m["value"]
		}
	}
	return nil
}

// TestValues: non-default values render what they say.
func TestValues(t *testing.T) {
	t.Run("image", func(t *testing.T) {
		objs, _ := render(t, map[string]any{"image": map[string]any{
			"repository": "registry.example.com/chat/operator", "tag": "v1.2.3", "pullPolicy": "Always"},
			"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
			"runnerImages":     map[string]any{"admissionPolicy": map[string]any{"enabled": true}}})
		c := container(t, objs)
		if c["image"] != "registry.example.com/chat/operator:v1.2.3" || c["imagePullPolicy"] != "Always" {
			t.Errorf("image %v pull policy %v", c["image"], c["imagePullPolicy"])
		}
		if v := env(c, "RUNNER_IMAGE"); v != "registry.example.com/chat/operator:v1.2.3" {
			t.Errorf("RUNNER_IMAGE %v, want the operator's image", v)
		}
		if p := get(objs["ConfigMap/"+releaseNS+"/genesys-gateway-runner-images"], "data", "prefixes"); p != "registry.example.com/chat/operator" {
			t.Errorf("admission prefixes %v, want the operator's repository", p)
		}
		d := objs["Deployment/"+releaseNS+"/genesys-gateway-controller-manager"]
		if s := get(d, "spec", "template", "spec", "imagePullSecrets"); !reflect.DeepEqual(s, []any{map[string]any{"name": "regcred"}}) {
			t.Errorf("imagePullSecrets %v", s)
		}
	})
	t.Run("runner images", func(t *testing.T) {
		objs, _ := render(t, map[string]any{
			"runnerImage":  "registry.example.com:5000/chat/runner:v2@sha256:" + strings.Repeat("a", 64),
			"runnerImages": map[string]any{"admissionPolicy": map[string]any{"enabled": true}}})
		c := container(t, objs)
		if v := env(c, "RUNNER_IMAGE"); !strings.HasPrefix(v.(string), "registry.example.com:5000/chat/runner:v2@") {
			t.Errorf("RUNNER_IMAGE %v", v)
		}
		if p := get(objs["ConfigMap/"+releaseNS+"/genesys-gateway-runner-images"], "data", "prefixes"); p != "registry.example.com:5000/chat/runner" {
			t.Errorf("admission prefixes %v, want the runner image's repository", p)
		}
		objs, _ = render(t, map[string]any{"runnerImages": map[string]any{
			"allowed": []any{"registry.example.com/team", "ghcr.io/gatewayops"}, "admissionPolicy": map[string]any{"enabled": true}}})
		if a := args(container(t, objs)); !contains(a, "--allowed-runner-images=registry.example.com/team,ghcr.io/gatewayops") {
			t.Errorf("args %q", a)
		}
		if p := get(objs["ConfigMap/"+releaseNS+"/genesys-gateway-runner-images"], "data", "prefixes"); p != "registry.example.com/team,ghcr.io/gatewayops" {
			t.Errorf("admission prefixes %v", p)
		}
	})
	t.Run("watched namespaces", func(t *testing.T) {
		objs, _ := render(t, map[string]any{"watchNamespaces": []any{"tenant-a", "tenant-b"}})
		if a := args(container(t, objs)); !contains(a, "--watch-namespaces=tenant-a,tenant-b") {
			t.Errorf("args %q", a)
		}
		if _, ok := objs["ClusterRole/<nil>/genesys-gateway-manager-role"]; !ok {
			t.Error("no manager ClusterRole without rbac.namespaced")
		}
		objs, _ = render(t, map[string]any{"watchNamespaces": []any{"tenant-a", "tenant-b"}, "rbac": map[string]any{"namespaced": true}})
		for _, ns := range []string{"tenant-a", "tenant-b"} {
			for _, k := range []string{"Role/" + ns + "/genesys-gateway-manager-role", "RoleBinding/" + ns + "/genesys-gateway-manager-rolebinding"} {
				if _, ok := objs[k]; !ok {
					t.Errorf("no %s: %v", k, keysOf(objs))
				}
			}
			sub := get(objs["RoleBinding/"+ns+"/genesys-gateway-manager-rolebinding"], "subjects").([]any)[0].(map[string]any)
			if sub["namespace"] != releaseNS {
				t.Errorf("RoleBinding in %s binds %v", ns, sub)
			}
		}
		for _, k := range []string{"ClusterRole/<nil>/genesys-gateway-manager-role", "ClusterRoleBinding/<nil>/genesys-gateway-manager-rolebinding"} {
			if _, ok := objs[k]; ok {
				t.Errorf("%s rendered with rbac.namespaced", k)
			}
		}
	})
	t.Run("service monitor on, network policy, CRD and leader election off", func(t *testing.T) {
		objs, _ := render(t, map[string]any{
			"metrics":        map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus"}, "interval": "15s"}},
			"networkPolicy":  map[string]any{"enabled": false},
			"crds":           map[string]any{"install": false},
			"leaderElection": map[string]any{"enabled": false},
			"replicaCount":   1,
			"extraArgs":      []any{"--gateway-service=blue"},
			"resources":      map[string]any{"limits": map[string]any{"memory": "1Gi"}},
		})
		sm, ok := objs["ServiceMonitor/"+releaseNS+"/genesys-gateway-controller-manager-metrics-monitor"]
		if !ok {
			t.Fatalf("no ServiceMonitor: %v", keysOf(objs))
		}
		if get(sm, "apiVersion") != "monitoring.coreos.com/v1" || get(sm, "metadata", "labels", "release") != "kube-prometheus" {
			t.Errorf("ServiceMonitor %v", sm)
		}
		ep := get(sm, "spec", "endpoints").([]any)[0].(map[string]any)
		if ep["port"] != "https" || ep["scheme"] != "https" || ep["interval"] != "15s" {
			t.Errorf("ServiceMonitor endpoint %v", ep)
		}
		svc := objs["Service/"+releaseNS+"/genesys-gateway-controller-manager-metrics-service"]
		if !reflect.DeepEqual(get(sm, "spec", "selector", "matchLabels"), get(svc, "metadata", "labels").(map[string]any)) &&
			!subset(get(sm, "spec", "selector", "matchLabels").(map[string]any), get(svc, "metadata", "labels").(map[string]any)) {
			t.Errorf("ServiceMonitor selector %v does not select the metrics Service %v", get(sm, "spec", "selector"), get(svc, "metadata", "labels"))
		}
		for k := range objs {
			if strings.HasPrefix(k, "NetworkPolicy/") || strings.HasPrefix(k, "CustomResourceDefinition/") {
				t.Errorf("%s rendered", k)
			}
		}
		c := container(t, objs)
		a := args(c)
		if contains(a, "--leader-elect") || !contains(a, "--gateway-service=blue") {
			t.Errorf("args %q", a)
		}
		// Helm merges maps: the limit changes, the default requests stay.
		if get(c, "resources", "limits", "memory") != "1Gi" || get(c, "resources", "requests", "cpu") != "50m" {
			t.Errorf("resources %v", c["resources"])
		}
	})
	t.Run("metrics off", func(t *testing.T) {
		objs, notes := render(t, map[string]any{"metrics": map[string]any{"enabled": false}})
		if a := args(container(t, objs)); !contains(a, "--metrics-bind-address=0") {
			t.Errorf("args %q", a)
		}
		if _, ok := objs["Service/"+releaseNS+"/genesys-gateway-controller-manager-metrics-service"]; ok {
			t.Error("metrics Service rendered with metrics.enabled false")
		}
		if strings.Contains(notes, "Metrics:") {
			t.Errorf("NOTES mention metrics:\n%s", notes)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for name, vals := range map[string]map[string]any{
			"namespaced without namespaces":    {"rbac": map[string]any{"namespaced": true}},
			"replicas without leader election": {"replicaCount": 2, "leaderElection": map[string]any{"enabled": false}},
			"service monitor without metrics":  {"metrics": map[string]any{"enabled": false, "serviceMonitor": map[string]any{"enabled": true}}},
		} {
			if _, _, err := tryRender(vals); err == nil {
				t.Errorf("%s: rendered, want an error", name)
			}
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func subset(a, b map[string]any) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
