package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRenderCommand: helmchart render prints the chart's manifests with the values of
// --set, --set-string and -f, as helm template does, and refuses bad input.
func TestRenderCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	code := renderMain([]string{"--chart", chartDir, "--namespace", "ops", "--kube-version", "v1.30.0",
		"--set", "image.repository=localhost/op,image.pullPolicy=Never", "--set-string", "image.tag=1.0",
		"--set", "namespace.create=true"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	objs := map[string]obj{}
	for _, o := range parseObjects(t, out.String()) {
		objs[key(o)] = o
	}
	d, ok := objs["Deployment/ops/genesys-gateway-controller-manager"]
	if !ok {
		t.Fatalf("no Deployment in namespace ops: %v", keysOf(objs))
	}
	c := get(d, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	if c["image"] != "localhost/op:1.0" || c["imagePullPolicy"] != "Never" {
		t.Errorf("image %v, pull policy %v", c["image"], c["imagePullPolicy"])
	}
	if _, ok := objs["Namespace/<nil>/ops"]; !ok {
		t.Errorf("no Namespace ops with namespace.create: %v", keysOf(objs))
	}
	if l := get(d, "metadata", "labels", "app.kubernetes.io/managed-by"); l != "Helm" {
		t.Errorf("managed-by %v", l)
	}

	for name, args := range map[string][]string{
		"below the chart's kubeVersion": {"--chart", chartDir, "--kube-version", "v1.29.0"},
		"refused values":                {"--chart", chartDir, "--set", "rbac.namespaced=true"},
		"no chart":                      {"--chart", t.TempDir()},
		"bad --set":                     {"--chart", chartDir, "--set", "a=b,,,=c"},
		"an argument":                   {"--chart", chartDir, "extra"},
	} {
		out.Reset()
		errOut.Reset()
		if code := renderMain(args, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "helmchart render") {
			t.Errorf("%s: exit %d, stderr %q, want a failure with a message", name, code, errOut.String())
		}
		if out.Len() > 0 {
			t.Errorf("%s: printed %q", name, out.String())
		}
	}
}
