package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// head is the start of every object of the cases: generation 3.
const head = `
apiVersion: chat.gatewayops.io/v1alpha1
kind: GenesysGateway
metadata: {name: acme, namespace: tenant-acme, generation: 3}
`

// cond is one condition for the current generation, 3.
func cond(ctype, status, reason, message string) string {
	return "  - {type: " + ctype + ", status: '" + status + "', reason: " + reason +
		", message: '" + message + "', observedGeneration: 3}\n"
}

// withStatus is a gateway with spec (indented YAML lines, may be empty) and a status
// observed at generation observed holding conds.
func withStatus(spec string, observed string, conds ...string) string {
	s := head + "spec:\n  domain: acme\n" + spec + "status:\n  observedGeneration: " + observed + "\n"
	if len(conds) > 0 {
		s += "  conditions:\n" + strings.Join(conds, "")
	}
	return s
}

var (
	readyAvailable = cond("Ready", "True", "Available", "2 of 2 runners ready")
	readyWaiting   = cond("Ready", "Unknown", "Progressing", "Waiting for runners: 1 of 2 ready")
	reconciling    = cond("Reconciling", "True", "Progressing", "Waiting for runners: 1 of 2 ready")
	secretNotFound = cond("Ready", "False", "SecretNotFound",
		"Secret acme-gms-basic named by spec.connection.basicAuth.secretRef not found")
	invalid = cond("Ready", "False", "InvalidConfiguration", "Invalid configuration")
	stalled = cond("Stalled", "True", "InvalidConfiguration", "runner image not set")
)

var healthCases = []struct {
	name    string
	obj     string
	status  string // Argo CD health
	message string // a part of hs.message
}{
	{"no status yet", head + "spec: {domain: acme}\n",
		"Progressing", "Waiting for the operator to observe generation 3"},
	{"observedGeneration -1 (the CRD's default)", head + "spec: {domain: acme}\nstatus: {observedGeneration: -1}\n",
		"Progressing", "observe generation 3"},
	{"Ready True, current", withStatus("", "3", readyAvailable),
		"Healthy", "2 of 2 runners ready"},
	{"Ready True, status.observedGeneration stale", withStatus("", "2", readyAvailable),
		"Progressing", "observe generation 3"},
	{"Ready True, condition's observedGeneration stale", withStatus("", "3",
		strings.Replace(readyAvailable, "observedGeneration: 3", "observedGeneration: 2", 1)),
		"Progressing", "Ready to reflect generation 3"},
	{"Reconciling True, Ready Unknown", withStatus("", "3", readyWaiting, reconciling),
		"Progressing", "Waiting for runners: 1 of 2 ready"},
	{"Reconciling True beats Ready True", withStatus("", "3", readyAvailable, reconciling),
		"Progressing", "2 of 2 runners ready"},
	{"Reconciling True beats Ready False", withStatus("", "3", secretNotFound, reconciling),
		"Progressing", "not found"},
	{"Stalled True", withStatus("", "3", invalid, stalled),
		"Degraded", "runner image not set"},
	{"Stalled True beats Reconciling True", withStatus("", "3", invalid, reconciling, stalled),
		"Degraded", "runner image not set"},
	{"Stalled True but stale", withStatus("", "2", invalid, stalled),
		"Progressing", "observe generation 3"},
	{"Ready False SecretNotFound, current, not reconciling", withStatus("", "3", secretNotFound),
		"Degraded", "Secret acme-gms-basic named by spec.connection.basicAuth.secretRef not found"},
	{"Genesys does not answer: Degraded with the runners' errors", withStatus("", "3",
		cond("Ready", "False", "GenesysUnreachable", "Genesys did not answer the runners 3 times in a row: acme-runner-0: dial tcp: lookup gms.acme.invalid: no such host")),
		"Degraded", "no such host"},
	{"waiting for Genesys' first answer: Progressing", withStatus("", "3",
		cond("Ready", "Unknown", "ProbingGenesys", "Waiting for Genesys to answer runners acme-runner-0"),
		cond("Reconciling", "True", "ProbingGenesys", "Waiting for Genesys to answer runners acme-runner-0")),
		"Progressing", "Waiting for Genesys"},
	{"Ready Unknown Progressing, not reconciling", withStatus("", "3", readyWaiting),
		"Progressing", "Waiting for runners: 1 of 2 ready"},
	{"no Ready condition", withStatus("", "3"),
		"Progressing", "Waiting for the Ready condition"},
	{"deploy false, NotDeployed", withStatus("  deploy: false\n", "3",
		cond("Ready", "True", "NotDeployed", "")),
		"Healthy", "Ready True (NotDeployed)"},
	{"suspended: status frozen at an older generation", withStatus("  suspend: true\n", "2", readyAvailable),
		"Suspended", "suspended"},
	{"suspended: Degraded before", withStatus("  suspend: true\n", "3", secretNotFound),
		"Suspended", "suspended"},
	{"suspend false", withStatus("  suspend: false\n", "3", readyAvailable),
		"Healthy", "2 of 2 runners ready"},
}

func TestArgoCDHealth(t *testing.T) {
	script := read(t, "argocd-health.lua")
	for _, tc := range healthCases {
		t.Run(tc.name, func(t *testing.T) {
			status, message := runHealth(t, script, tc.obj)
			if status != tc.status || !strings.Contains(message, tc.message) {
				t.Errorf("got %s %q, want %s with %q\nobject:%s", status, message, tc.status, tc.message, tc.obj)
			}
		})
	}
}

// TestArgoCDConfigMapPatch checks the argocd-cm patch inlines argocd-health.lua verbatim.
func TestArgoCDConfigMapPatch(t *testing.T) {
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	if err := yaml.UnmarshalStrict([]byte(read(t, "argocd-cm-patch.yaml")), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata["name"] != "argocd-cm" {
		t.Errorf("not the argocd-cm ConfigMap: %s %s %v", cm.APIVersion, cm.Kind, cm.Metadata)
	}
	const key = "resource.customizations.health.chat.gatewayops.io_GenesysGateway"
	if len(cm.Data) != 1 || cm.Data[key] != read(t, "argocd-health.lua") {
		t.Errorf("data must hold only %s, equal to argocd-health.lua; regenerate it with\n"+
			"  sed 's/^/    /; s/^    $//' argocd-health.lua", key)
	}
}

// TestFluxKustomization checks the sample's shape; cel-go is not a dependency of this
// module, so the expressions are not evaluated here (they were checked by hand against
// healthCases: Healthy = Current, Degraded = Failed, Progressing and Suspended = InProgress).
func TestFluxKustomization(t *testing.T) {
	type expr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		InProgress string `json:"inProgress"`
		Failed     string `json:"failed"`
		Current    string `json:"current"`
	}
	var ks struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		Spec       struct {
			Interval  string            `json:"interval"`
			SourceRef map[string]string `json:"sourceRef"`
			Path      string            `json:"path"`
			Prune     bool              `json:"prune"`
			Wait      bool              `json:"wait"`
			Timeout   string            `json:"timeout"`
			Exprs     []expr            `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(read(t, "flux-kustomization.yaml")), &ks); err != nil {
		t.Fatal(err)
	}
	if ks.APIVersion != "kustomize.toolkit.fluxcd.io/v1" || ks.Kind != "Kustomization" || !ks.Spec.Wait {
		t.Errorf("want a kustomize.toolkit.fluxcd.io/v1 Kustomization with wait: true")
	}
	if _, err := os.Stat(filepath.Join("..", "..", ks.Spec.Path, "kustomization.yaml")); err != nil {
		t.Errorf("spec.path: %v", err)
	}
	if len(ks.Spec.Exprs) != 1 {
		t.Fatalf("want one healthCheckExprs entry, got %d", len(ks.Spec.Exprs))
	}
	e := ks.Spec.Exprs[0]
	if e.APIVersion != "chat.gatewayops.io/v1alpha1" || e.Kind != "GenesysGateway" {
		t.Errorf("healthCheckExprs for %s %s", e.APIVersion, e.Kind)
	}
	for name, x := range map[string]struct {
		expr  string
		needs []string
	}{
		"inProgress": {e.InProgress, []string{"'Reconciling'", "'Stalled'"}},
		"failed":     {e.Failed, []string{"'Stalled'", "'Ready'", "'False'", "metadata.generation", "'Reconciling'"}},
		"current":    {e.Current, []string{"'Ready'", "'True'", "status.observedGeneration == metadata.generation"}},
	} {
		if strings.Count(x.expr, "(") != strings.Count(x.expr, ")") || strings.Count(x.expr, "'")%2 != 0 {
			t.Errorf("%s: unbalanced parentheses or quotes: %s", name, x.expr)
		}
		for _, s := range x.needs {
			if !strings.Contains(x.expr, s) {
				t.Errorf("%s does not mention %s: %s", name, s, x.expr)
			}
		}
	}
}

// runHealth runs the health script as Argo CD does: obj set, the script's return read.
func runHealth(t *testing.T, script, objYAML string) (status, message string) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(objYAML), &obj); err != nil {
		t.Fatalf("%v in:%s", err, objYAML)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatal(err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, not a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts a decoded JSON value (objects, arrays, strings, numbers, bools, null)
// into Lua values, as Argo CD does.
func toLua(ls *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		tb := ls.NewTable()
		for k, e := range v {
			tb.RawSetString(k, toLua(ls, e))
		}
		return tb
	case []any:
		tb := ls.NewTable()
		for _, e := range v {
			tb.Append(toLua(ls, e))
		}
		return tb
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default: // nil
		return lua.LNil
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
