package main

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const (
	chartName           = "genesys-gateway-operator"
	defaultChartVersion = "0.1.0"
	// kubeVersion: the ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) needs 1.30.
	kubeVersion = ">=1.30.0-0"
	// managerContainer is the operator's container in the Deployment.
	managerContainer = "manager"
)

// helmLabels are the labels the chart's "labels" helper adds to every object; an object of
// config/ must not set them itself (a duplicate key would break the YAML).
var helmLabels = []string{
	"helm.sh/chart",
	"app.kubernetes.io/managed-by",
	"app.kubernetes.io/instance",
	"app.kubernetes.io/version",
}

//go:embed all:static
var static embed.FS

// Kustomize builds the kustomization in dir with kustomize's Go API and the on-disk
// filesystem, as kustomize build dir does, and returns its objects in output order.
func Kustomize(dir string) ([]*yaml.RNode, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []*yaml.RNode
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		n, err := yaml.Parse(string(b))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// objectKey is kind/namespace/name.
func objectKey(n *yaml.RNode) string {
	return n.GetKind() + "/" + n.GetNamespace() + "/" + n.GetName()
}

// chartDefaults are the values.yaml and Chart.yaml defaults taken from config/.
type chartDefaults struct {
	Repository, AppVersion, Version, KubeVersion string
	Replicas                                     int
	Resources                                    string // YAML, indented for values.yaml
	LeaderElect                                  bool
}

// gen is the state of one generation: the sentinels of the object being templated.
type gen struct {
	namespace   string // config/default's namespace: the release namespace
	watchNS     string // config/overlays/namespaced's watched namespace
	snippets    map[string]func(indent int) string
	nextSnippet int
}

// insert returns a sentinel that, as a mapping key or a list item, is replaced by snippet
// rendered at the sentinel's indentation.
func (g *gen) insert(snippet func(indent int) string) string {
	g.nextSnippet++
	s := fmt.Sprintf("__INSERT_%d__", g.nextSnippet)
	g.snippets[s] = snippet
	return s
}

// Generate returns the chart's files (path relative to the chart folder → content).
func Generate(configDir, version string) (map[string][]byte, error) {
	def, err := Kustomize(filepath.Join(configDir, "default"))
	if err != nil {
		return nil, err
	}
	adm, err := Kustomize(filepath.Join(configDir, "admission-policy"))
	if err != nil {
		return nil, err
	}
	nsd, err := Kustomize(filepath.Join(configDir, "overlays", "namespaced"))
	if err != nil {
		return nil, err
	}
	g := &gen{snippets: map[string]func(int) string{}}
	for _, n := range def {
		if n.GetKind() == "Namespace" {
			g.namespace = n.GetName()
		}
	}
	if g.namespace == "" {
		return nil, fmt.Errorf("config/default has no Namespace")
	}
	inDefault := map[string]bool{}
	for _, n := range def {
		inDefault[objectKey(n)] = true
	}
	inOverlay := map[string]bool{}
	var added []*yaml.RNode // what config/overlays/namespaced adds: the Roles of a watched namespace
	for _, n := range nsd {
		inOverlay[objectKey(n)] = true
		if !inDefault[objectKey(n)] {
			added = append(added, n)
			if ns := n.GetNamespace(); ns != "" && ns != g.namespace {
				g.watchNS = ns
			}
		}
	}

	files := map[string][]byte{}
	add := func(name string, content []byte) error {
		if _, dup := files[name]; dup {
			return fmt.Errorf("two objects make %s", name)
		}
		files[name] = content
		return nil
	}
	d := chartDefaults{Version: version, KubeVersion: kubeVersion}
	for _, n := range def {
		cond := ""
		switch {
		case n.GetKind() == "Namespace":
			cond = "$.Values.namespace.create"
		case n.GetKind() == "CustomResourceDefinition":
			cond = "$.Values.crds.install"
		case n.GetKind() == "NetworkPolicy":
			cond = "$.Values.networkPolicy.enabled"
		case n.GetKind() == "Service" && strings.HasSuffix(n.GetName(), "metrics-service"):
			cond = "$.Values.metrics.enabled"
		case !inOverlay[objectKey(n)]: // the cluster-wide manager rights the namespaced overlay removes
			cond = "not $.Values.rbac.namespaced"
		}
		t, err := g.template(n, cond, false, &d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", objectKey(n), err)
		}
		if err := add(fileName("", n), t); err != nil {
			return nil, err
		}
	}
	for _, n := range adm {
		t, err := g.template(n, "$.Values.runnerImages.admissionPolicy.enabled", false, &d)
		if err != nil {
			return nil, fmt.Errorf("config/admission-policy %s: %w", objectKey(n), err)
		}
		if err := add(fileName("admission-policy-", n), t); err != nil {
			return nil, err
		}
	}
	for _, n := range added {
		t, err := g.template(n, "$.Values.rbac.namespaced", true, &d)
		if err != nil {
			return nil, fmt.Errorf("config/overlays/namespaced %s: %w", objectKey(n), err)
		}
		if err := add(fileName("namespaced-", n), t); err != nil {
			return nil, err
		}
	}
	if d.Repository == "" {
		return nil, fmt.Errorf("config/default has no Deployment with a %s container", managerContainer)
	}

	// The hand-written files; values.yaml and Chart.yaml are templates of defaults.
	err = fs.WalkDir(static, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "static/")
		if strings.HasSuffix(rel, ".gotmpl") {
			rel = strings.TrimSuffix(rel, ".gotmpl")
			t, err := template.New(rel).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, d); err != nil {
				return err
			}
			b = buf.Bytes()
		}
		return add(rel, b)
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// fileName is templates/<prefix><kind>-<name without config's name prefix>.yaml.
func fileName(prefix string, n *yaml.RNode) string {
	name := strings.TrimPrefix(n.GetName(), "genesys-gateway-")
	if n.GetKind() == "CustomResourceDefinition" {
		name = strings.SplitN(name, ".", 2)[0]
	}
	if n.GetKind() == "Namespace" {
		return "templates/" + prefix + "namespace.yaml"
	}
	return "templates/" + prefix + strings.ToLower(n.GetKind()) + "-" + name + ".yaml"
}

// template turns one kustomize object into a chart template, rendered only when cond (a
// template expression, empty: always) holds; perWatched repeats it for every watched
// namespace. The Deployment's defaults go into d.
func (g *gen) template(n *yaml.RNode, cond string, perWatched bool, d *chartDefaults) ([]byte, error) {
	n = n.Copy()
	g.snippets = map[string]func(int) string{}
	root := n.YNode()
	walkValues(root, func(s *yaml.Node) {
		switch {
		case s.Value == g.namespace:
			s.Value = "__NS__"
		case perWatched && g.watchNS != "" && s.Value == g.watchNS:
			s.Value = "__WATCHNS__"
		}
	})
	meta := mapGet(root, "metadata")
	labels := mapGet(meta, "labels")
	if labels == nil {
		labels = &yaml.Node{Kind: yaml.MappingNode}
		mapSet(meta, "labels", labels)
	}
	for _, k := range helmLabels {
		if mapGet(labels, k) != nil {
			return nil, fmt.Errorf("sets the label %s, which the chart sets", k)
		}
	}
	mapSet(labels, g.insert(func(i int) string {
		return fmt.Sprintf(`{{- include "genesys-gateway-operator.labels" $ | nindent %d }}`, i)
	}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})

	var prologue string
	switch n.GetKind() {
	case "CustomResourceDefinition":
		ann := mapGet(meta, "annotations")
		if ann == nil {
			ann = &yaml.Node{Kind: yaml.MappingNode}
			mapSet(meta, "annotations", ann)
		}
		mapSet(ann, g.insert(func(i int) string {
			return lines(i, `{{- if $.Values.crds.keep }}`, `helm.sh/resource-policy: keep`, `{{- end }}`)
		}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})
	case "ConfigMap":
		if p := mapGet(mapGet(root, "data"), "prefixes"); p != nil {
			p.Value, p.Style, p.Tag = "__PREFIXES__", 0, "!!str"
		}
	case "Deployment":
		if err := g.deployment(root, d); err != nil {
			return nil, err
		}
		prologue = `{{- include "genesys-gateway-operator.validate" $ }}` + "\n"
	}

	body, err := n.String()
	if err != nil {
		return nil, err
	}
	// Literal {{ in config (none today) must stay literal.
	body = strings.ReplaceAll(body, "{{", `{{ "{{" }}`)
	body = strings.NewReplacer(
		"__NS__", "{{ $.Release.Namespace }}",
		"__WATCHNS__", "{{ $ns }}",
		"__REPLICAS__", "{{ $.Values.replicaCount }}",
		"__IMAGE__", `{{ include "genesys-gateway-operator.image" $ }}`,
		"__RUNNER_IMAGE__", `{{ include "genesys-gateway-operator.runnerImage" $ }}`,
		"__PREFIXES__", `{{ include "genesys-gateway-operator.runnerImagePrefixes" $ | quote }}`,
	).Replace(body)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		t := strings.TrimLeft(l, " ")
		ind := len(l) - len(t)
		key, _, _ := strings.Cut(strings.TrimPrefix(t, "- "), ":")
		if f, ok := g.snippets[key]; ok {
			out = append(out, strings.Repeat(" ", ind)+f(ind))
			delete(g.snippets, key)
			continue
		}
		if strings.Contains(l, "__") && strings.Contains(l, "__INSERT_") {
			return nil, fmt.Errorf("sentinel left in %q", l)
		}
		out = append(out, l)
	}
	if len(g.snippets) > 0 {
		return nil, fmt.Errorf("%d sentinels not found in the output", len(g.snippets))
	}

	var b strings.Builder
	b.WriteString("{{- /* Generated by hack/helmchart (make helm-chart) from config/: do not edit. */ -}}\n")
	b.WriteString(prologue)
	if cond != "" {
		fmt.Fprintf(&b, "{{- if %s }}\n", cond)
	}
	if perWatched {
		b.WriteString("{{- range $ns := $.Values.watchNamespaces }}\n---\n")
	}
	b.WriteString(strings.Join(out, "\n") + "\n")
	if perWatched {
		b.WriteString("{{- end }}\n")
	}
	if cond != "" {
		b.WriteString("{{- end }}\n")
	}
	return []byte(b.String()), nil
}

// deployment puts the value placeholders into the operator's Deployment and records its
// defaults.
func (g *gen) deployment(root *yaml.Node, d *chartDefaults) error {
	spec := mapGet(root, "spec")
	if r := mapGet(spec, "replicas"); r != nil {
		n, err := strconv.Atoi(r.Value)
		if err != nil {
			return fmt.Errorf("replicas %q: %w", r.Value, err)
		}
		d.Replicas = n
		r.Value, r.Tag, r.Style = "__REPLICAS__", "!!str", 0
	}
	podTemplate := mapGet(spec, "template")
	podMeta := mapGet(podTemplate, "metadata")
	for _, k := range []string{"labels", "annotations"} {
		m := mapGet(podMeta, k)
		if m == nil {
			m = &yaml.Node{Kind: yaml.MappingNode}
			mapSet(podMeta, k, m)
		}
		value := "$.Values.podLabels"
		if k == "annotations" {
			value = "$.Values.podAnnotations"
		}
		mapSet(m, g.insert(func(i int) string {
			return fmt.Sprintf(`{{- with %s }}{{ toYaml . | nindent %d }}{{ end }}`, value, i)
		}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})
	}
	podSpec := mapGet(podTemplate, "spec")
	mapSet(podSpec, g.insert(func(i int) string {
		var parts []string
		for _, f := range []struct{ key, value string }{
			{"imagePullSecrets", "$.Values.imagePullSecrets"},
			{"nodeSelector", "$.Values.nodeSelector"},
			{"affinity", "$.Values.affinity"},
			{"tolerations", "$.Values.tolerations"},
		} {
			parts = append(parts, fmt.Sprintf("{{- with %s }}", f.value), f.key+":",
				fmt.Sprintf("  {{- toYaml . | nindent %d }}", i+2), "{{- end }}")
		}
		parts = append(parts, "{{- with $.Values.priorityClassName }}", "priorityClassName: {{ . | quote }}", "{{- end }}")
		return lines(i, parts...)
	}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})

	var c *yaml.Node
	if cs := mapGet(podSpec, "containers"); cs != nil {
		for _, x := range cs.Content {
			if mapGet(x, "name").Value == managerContainer {
				c = x
			}
		}
	}
	if c == nil {
		return fmt.Errorf("no container %s", managerContainer)
	}
	img := mapGet(c, "image")
	if img == nil {
		return fmt.Errorf("container %s has no image", managerContainer)
	}
	image := img.Value
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") || strings.Contains(image, "@") {
		return fmt.Errorf("image %q: want repository:tag", image)
	}
	d.Repository, d.AppVersion = image[:i], image[i+1:]
	img.Value, img.Style = "__IMAGE__", 0
	if mapGet(c, "imagePullPolicy") != nil {
		return fmt.Errorf("config sets imagePullPolicy, which the chart sets")
	}
	mapSet(c, g.insert(func(i int) string {
		return lines(i, "{{- with $.Values.image.pullPolicy }}", "imagePullPolicy: {{ . }}", "{{- end }}")
	}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})
	for _, e := range seq(mapGet(c, "env")) {
		if v := mapGet(e, "value"); mapGet(e, "name").Value == "RUNNER_IMAGE" && v != nil && v.Value == image {
			v.Value, v.Style = "__RUNNER_IMAGE__", 0
		}
	}
	if r := mapGet(c, "resources"); r != nil {
		b, err := yaml.String(r)
		if err != nil {
			return err
		}
		d.Resources = indent(strings.TrimRight(b, "\n"), "  ")
		mapDel(c, "resources")
	} else {
		d.Resources = "  {}"
	}
	mapSet(c, g.insert(func(i int) string {
		return lines(i, "resources:", fmt.Sprintf("  {{- toYaml $.Values.resources | nindent %d }}", i+2))
	}), &yaml.Node{Kind: yaml.ScalarNode, Value: ""})

	args := mapGet(c, "args")
	if args == nil {
		args = &yaml.Node{Kind: yaml.SequenceNode}
		mapSet(c, "args", args)
	}
	for _, a := range args.Content {
		switch {
		case a.Value == "--leader-elect" || a.Value == "--leader-elect=true":
			d.LeaderElect = true
			a.Value, a.Style = g.insert(func(i int) string {
				return lines(i, "{{- if $.Values.leaderElection.enabled }}", "- --leader-elect", "{{- end }}")
			}), 0
		case strings.HasPrefix(a.Value, "--metrics-bind-address="):
			addr := strings.TrimPrefix(a.Value, "--metrics-bind-address=")
			a.Value, a.Style = g.insert(func(int) string {
				return "- --metrics-bind-address={{ if $.Values.metrics.enabled }}" + addr + "{{ else }}0{{ end }}"
			}), 0
		case strings.HasPrefix(a.Value, "--watch-namespaces"), strings.HasPrefix(a.Value, "--allowed-runner-images"):
			return fmt.Errorf("config sets %s, which the chart sets from its values", a.Value)
		}
	}
	args.Content = append(args.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: g.insert(func(i int) string {
		return lines(i,
			"{{- with $.Values.watchNamespaces }}",
			`- {{ printf "--watch-namespaces=%s" (join "," .) | quote }}`,
			"{{- end }}",
			"{{- with $.Values.runnerImages.allowed }}",
			`- {{ printf "--allowed-runner-images=%s" (join "," .) | quote }}`,
			"{{- end }}",
			"{{- range $.Values.extraArgs }}",
			"- {{ . | quote }}",
			"{{- end }}")
	})})
	return nil
}

// lines joins template lines, every one after the first indented by i spaces.
func lines(i int, ls ...string) string {
	return strings.Join(ls, "\n"+strings.Repeat(" ", i))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// walkValues calls f on every scalar that is not a mapping key.
func walkValues(n *yaml.Node, f func(*yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walkValues(c, f)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walkValues(n.Content[i], f)
		}
	case yaml.ScalarNode:
		f(n)
	}
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func mapDel(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// WriteChart replaces dir with files.
func WriteChart(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadChart reads every file under dir (path relative to it, with /).
func ReadChart(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[path.Clean(filepath.ToSlash(rel))] = b
		return err
	})
	return files, err
}
