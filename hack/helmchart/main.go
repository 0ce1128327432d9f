// Command helmchart writes the Helm chart charts/genesys-gateway-operator from the same
// kustomize sources as make build-installer (config/default), so that the chart and
// dist/install.yaml cannot drift apart. It is a Go module of its own (hack/helmchart/go.mod),
// so Helm's and kustomize's dependencies stay out of the operator's module; make helm-chart
// runs it from this folder:
//
//	cd hack/helmchart && go run . --config ../../config --out ../../charts/genesys-gateway-operator
//
// With the subcommand render it prints the chart's manifests instead, rendered with Helm's
// Go library (helm template, no helm binary; see renderMain):
//
//	cd hack/helmchart && go run . render --set image.repository=...,image.tag=... > manifests.yaml
//
// It builds config/default, config/admission-policy and config/overlays/namespaced with
// kustomize's Go API (krusty, the same major as bin/kustomize), turns every object into a
// template (the release namespace, Helm's standard labels, and value placeholders for the
// image, replicas, resources, flags and optional parts) and adds the hand-written files of
// static/ (helpers, NOTES.txt, the ServiceMonitor). values.yaml and Chart.yaml take their
// defaults (image, replicas, resources) from the kustomize output. The whole chart folder is
// generated: edit config/ or this program, never the chart. The tests of this module render
// the chart with Helm's Go library and compare it with kustomize's output object by object;
// TestInstallAccepted applies both (dist/install.yaml's objects and the chart's) to a real
// kube-apiserver and etcd (envtest: KUBEBUILDER_ASSETS, else bin/k8s/) and compares what it
// stored.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		os.Exit(renderMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	configDir := flag.String("config", "../../config", "the kustomize sources (config/ of the repository)")
	out := flag.String("out", "../../charts/genesys-gateway-operator", "the chart folder to write (replaced whole)")
	version := flag.String("chart-version", defaultChartVersion, "the chart's version (SemVer)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "helmchart: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	files, err := Generate(*configDir, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmchart:", err)
		os.Exit(1)
	}
	if err := WriteChart(*out, files); err != nil {
		fmt.Fprintln(os.Stderr, "helmchart:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d files)\n", *out, len(files))
}
