package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// defaultKubeVersion is the Kubernetes version Render renders for when none is given: the
// envtest control plane's (ENVTEST_K8S_VERSION of the Makefile).
const defaultKubeVersion = "v1.37.2"

// Render is helm template (helm install --dry-run --client-only: no cluster) of the chart
// in chartDir as release name in namespace, for Kubernetes kubeVersion (empty:
// defaultKubeVersion), with vals. It returns the manifests (a multi-document YAML stream,
// hooks last) and the rendered NOTES.txt.
func Render(chartDir, name, namespace, kubeVersion string, vals map[string]any) (manifest, notes string, err error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", "", err
	}
	if kubeVersion == "" {
		kubeVersion = defaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return "", "", fmt.Errorf("kube version %q: %w", kubeVersion, err)
	}
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	inst := action.NewInstall(cfg)
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = name, namespace
	inst.KubeVersion = kv
	rel, err := inst.Run(chrt, vals)
	if err != nil {
		return "", "", err
	}
	var stream bytes.Buffer
	stream.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		stream.WriteString("\n---\n" + h.Manifest)
	}
	return stream.String(), rel.Info.Notes, nil
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// renderMain is the render subcommand: helm template of the chart with Helm's Go library
// (no helm binary), printing the manifests on stdout, e.g. for the end-to-end suite:
//
//	cd hack/helmchart && go run . render --namespace genesys-gateway-system \
//	  --set image.repository=localhost/genesys-gateway-operator,image.tag=e2e,image.pullPolicy=Never
func renderMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("helmchart render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chartDir := fs.String("chart", "../../charts/genesys-gateway-operator", "the chart folder")
	name := fs.String("name", chartName, "the release name")
	namespace := fs.String("namespace", "genesys-gateway-system", "the release namespace")
	kubeVersion := fs.String("kube-version", defaultKubeVersion, "the Kubernetes version to render for (the chart needs 1.30 or later)")
	var opts values.Options
	fs.Var((*stringList)(&opts.ValueFiles), "f", "a values file (repeatable), as helm -f")
	fs.Var((*stringList)(&opts.Values), "set", "values key=value[,key=value] (repeatable), as helm --set")
	fs.Var((*stringList)(&opts.StringValues), "set-string", "string values key=value[,key=value] (repeatable), as helm --set-string")
	fs.Var((*stringList)(&opts.JSONValues), "set-json", "JSON values key=json (repeatable), as helm --set-json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "helmchart render: unexpected arguments %q\n", fs.Args())
		return 2
	}
	vals, err := opts.MergeValues(nil)
	if err != nil {
		fmt.Fprintln(stderr, "helmchart render:", err)
		return 2
	}
	manifest, _, err := Render(*chartDir, *name, *namespace, *kubeVersion, vals)
	if err != nil {
		fmt.Fprintln(stderr, "helmchart render:", err)
		return 1
	}
	if _, err := io.WriteString(stdout, strings.TrimLeft(manifest, "\n")); err != nil {
		fmt.Fprintln(stderr, "helmchart render:", err)
		return 1
	}
	return 0
}
