package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// fullRegistry registers every runner metric as run.go does, each with a sample (a vector
// without one is not gathered, so neither linted nor listed).
func fullRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	const gw = "tenant/acme"
	reg := prometheus.NewRegistry()
	m := New(reg, gw)
	m.SetChats(map[chatv1alpha1.ChatState]int{chatv1alpha1.ChatConnected: 1})
	now := time.Now()
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatConnected, RequestTime: now.Add(-time.Minute), ConnectTime: now})
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatEnded, Reason: chatv1alpha1.EndAgentClosed, RequestTime: now.Add(-time.Hour), EndTime: now})
	m.Called(gms.OpRefresh, time.Millisecond, codedErr{code: "http_503"})
	m.Retried(gms.OpRefresh)
	m.ObservePollLateness(time.Millisecond)
	m.PollDeferred()
	m.StatusWritten()
	w := NewWebhook(reg, gw)
	w.WebhookDelivered()
	RegisterCustody(reg, gw, func() CustodyFigures { return CustodyFigures{StoredChats: 1, OwnedStores: 1} })
	RegisterEngine(reg, gw, func() chatv1alpha1.RunnerStatus {
		return chatv1alpha1.RunnerStatus{ChatCounters: chatv1alpha1.ChatCounters{Agents: 2, Capacity: 20}}
	}, nil)
	RegisterPolls(reg, gw, func() chat.PollLoad { return chat.PollLoad{InFlight: 3, Limit: 64} })
	a := NewAPI(reg, gw)
	a.Served(escalation.RouteEscalate, 201, false, 10*time.Millisecond)
	a.StreamOpened(escalation.RouteEvents, 200, false)
	return reg
}

func TestEveryRunnerMetricPassesPromlint(t *testing.T) {
	families, err := fullRegistry(t).Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "genesys_") && !strings.HasPrefix(f.GetName(), "genesys_chatrunner_") {
			t.Errorf("%s: runner metrics start genesys_chatrunner_", f.GetName())
		}
	}
}

func TestTransitionedObservesTimeToAgentAndChatDuration(t *testing.T) {
	m, reg := newMetrics(t)
	req := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatRequesting, RequestTime: req})
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatWaitingForAgent, RequestTime: req})
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatConnected, RequestTime: req, ConnectTime: req.Add(42 * time.Second)})
	// Genesys' clock behind the runner's: zero, never negative.
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatConnected, RequestTime: req, ConnectTime: req.Add(-time.Second)})
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatEnded, Reason: chatv1alpha1.EndAgentClosed,
		RequestTime: req, ConnectTime: req.Add(42 * time.Second), EndTime: req.Add(10 * time.Minute)})
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatEnded, Reason: chatv1alpha1.EndEscalationTimeout,
		RequestTime: req, EndTime: req.Add(5 * time.Minute)})
	// Without times (an old engine, a test observer): counted, not observed.
	m.Transitioned(chat.Transition{To: chatv1alpha1.ChatFailed, Reason: chatv1alpha1.EndGenesysError})

	h := sample(t, reg, "genesys_chatrunner_time_to_agent_seconds").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 42 {
		t.Errorf("time to agent: count %d, sum %v; want 2, 42", h.GetSampleCount(), h.GetSampleSum())
	}
	d := sample(t, reg, "genesys_chatrunner_chat_duration_seconds", "to_state", "Ended", "reason", "AgentClosed").GetHistogram()
	if d.GetSampleCount() != 1 || d.GetSampleSum() != 600 {
		t.Errorf("duration of AgentClosed: count %d, sum %v; want 1, 600", d.GetSampleCount(), d.GetSampleSum())
	}
	d = sample(t, reg, "genesys_chatrunner_chat_duration_seconds", "to_state", "Ended", "reason", "EscalationTimeout").GetHistogram()
	if d.GetSampleCount() != 1 || d.GetSampleSum() != 300 {
		t.Errorf("duration of EscalationTimeout: count %d, sum %v; want 1, 300", d.GetSampleCount(), d.GetSampleSum())
	}
	expectValue(t, reg, 1, "genesys_chatrunner_chat_transitions_total", "to_state", "Failed", "reason", "GenesysError")
}

func TestEngineFiguresAreReadAtScrapeTime(t *testing.T) {
	reg := prometheus.NewRegistry()
	answered := metav1.NewTime(time.Unix(1_700_000_000, 500_000_000))
	st := chatv1alpha1.RunnerStatus{ChatCounters: chatv1alpha1.ChatCounters{Agents: 3, Capacity: 30}, GenesysFailures: 4,
		LastGenesysAnswerTime: &answered}
	entra := ""
	RegisterEngine(reg, "tenant/acme", func() chatv1alpha1.RunnerStatus { return st }, func() string { return entra })
	expectValue(t, reg, 30, "genesys_chatrunner_capacity")
	expectValue(t, reg, 3, "genesys_chatrunner_agents_in_service")
	expectValue(t, reg, 4, "genesys_chatrunner_genesys_failures")
	expectValue(t, reg, 1_700_000_000.5, "genesys_chatrunner_genesys_last_answer_timestamp_seconds")
	expectValue(t, reg, 0, "genesys_chatrunner_auth_failing")

	st.AuthError = "gms refused the credentials"
	expectValue(t, reg, 1, "genesys_chatrunner_auth_failing")
	st.AuthError, entra = "", "no Entra ID token"
	expectValue(t, reg, 1, "genesys_chatrunner_auth_failing")
	st.LastGenesysAnswerTime = nil
	expectValue(t, reg, 0, "genesys_chatrunner_genesys_last_answer_timestamp_seconds")
}

func TestPollLoadIsReadAtScrapeTime(t *testing.T) {
	reg := prometheus.NewRegistry()
	load := chat.PollLoad{InFlight: 64, Waiting: 120, Limit: 64}
	RegisterPolls(reg, "tenant/acme", func() chat.PollLoad { return load })
	expectValue(t, reg, 64, "genesys_chatrunner_polls_in_flight")
	expectValue(t, reg, 120, "genesys_chatrunner_polls_waiting")
	expectValue(t, reg, 64, "genesys_chatrunner_polls_in_flight_limit")
	load = chat.PollLoad{InFlight: 5, Limit: 400}
	expectValue(t, reg, 0, "genesys_chatrunner_polls_waiting")
	expectValue(t, reg, 400, "genesys_chatrunner_polls_in_flight_limit")
}

func TestAPILabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewAPI(reg, "tenant/acme")
	a.Served("GET /v1/chats/"+strings.Repeat("x", 100), 700, false, -time.Second)
	a.Served("", 0, true, time.Second)
	a.StreamOpened(escalation.RouteAllEvents, 200, true)
	a.StreamClosed(escalation.RouteAllEvents)
	expectValue(t, reg, 1, "genesys_chatrunner_api_requests_total", "route", other, "code", other, "source", "bot")
	expectValue(t, reg, 1, "genesys_chatrunner_api_requests_total", "route", other, "code", other, "source", "runner")
	expectValue(t, reg, 1, "genesys_chatrunner_api_requests_total", "route", escalation.RouteAllEvents, "code", "200", "source", "runner")
	expectValue(t, reg, 0, "genesys_chatrunner_api_open_streams", "route", escalation.RouteAllEvents)
	h := sample(t, reg, "genesys_chatrunner_api_request_duration_seconds", "route", other, "source", "bot").GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 0 {
		t.Errorf("count %d, sum %v; want 1, 0 (a negative duration counts as zero)", h.GetSampleCount(), h.GetSampleSum())
	}
}

// The monitoring objects: config/prometheus (alerts, monitors) and config/grafana.
var (
	configDir = filepath.Join("..", "..", "config")
	// metricName is a runner metric in PromQL.
	metricName = regexp.MustCompile(`\bgenesys_[a-z0-9_]+`)
	// selectorName is any metric with a selector: name{...}.
	selectorName = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	// matcher is a label matcher: name op "value".
	matcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// grouping is an aggregation's by (...) or a vector match's on (...).
	grouping = regexp.MustCompile(`\b(?:by|on|ignoring|without)\s*\(([^)]*)\)`)
	// annotationLabel is a $labels.name of an annotation.
	annotationLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
)

// otherMetrics are the metrics the alerts or dashboard may query that no runner exports.
var otherMetrics = map[string]string{
	"up": "Prometheus' scrape health of every target",
}

// targetLabels are the labels Prometheus adds to every runner series (PodMonitor), and le.
var targetLabels = []string{"namespace", "pod", "job", "instance", "container", "endpoint", "le"}

// runnerCatalogue is every runner metric family by name, and every label name.
func runnerCatalogue(t *testing.T) (map[string]dto.MetricType, []string) {
	t.Helper()
	families, err := fullRegistry(t).Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]dto.MetricType{}
	labels := slices.Clone(targetLabels)
	for _, f := range families {
		types[f.GetName()] = f.GetType()
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
	}
	return types, labels
}

// checkQuery checks that a PromQL query names only metrics, labels and label values that
// exist: the problems it finds.
func checkQuery(where, q string, types map[string]dto.MetricType, labels []string) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.Count(q, "(") != strings.Count(q, ")") || strings.Count(q, "{") != strings.Count(q, "}") {
		errorf("%s: unbalanced brackets in %q", where, q)
	}
	for _, name := range metricName.FindAllString(q, -1) {
		if _, ok := types[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if typ, ok := types[base]; !ok || base == name || typ != dto.MetricType_HISTOGRAM {
			errorf("%s: %s is no runner metric (nor a histogram's series)", where, name)
		}
	}
	for _, m := range selectorName.FindAllStringSubmatch(q, -1) {
		if name := m[1]; !strings.HasPrefix(name, "genesys_") && otherMetrics[name] == "" {
			errorf("%s: %s is neither a runner metric nor allowed in otherMetrics", where, name)
		}
	}
	for _, m := range grouping.FindAllStringSubmatch(q, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
				errorf("%s: groups by an unknown label %q", where, l)
			}
		}
	}
	routes := []string{escalation.RouteEscalate, escalation.RouteGetChat, escalation.RouteCloseChat, escalation.RouteMessages,
		escalation.RouteTyping, escalation.RoutePresent, escalation.RouteEvents, escalation.RouteUploadFile, escalation.RouteGetFile,
		escalation.RouteConversation, escalation.RouteAllEvents, escalation.RouteOpenAPI, escalation.RouteOther}
	known := map[string][]string{
		"state":    toStrings(states),
		"to_state": append(toStrings(states), other),
		"reason":   append(toStrings(reasons), none, other),
		"route":    routes,
		"source":   {sourceBot, sourceRunner},
	}
	for _, m := range matcher.FindAllStringSubmatch(q, -1) {
		name, op, value := m[1], m[2], m[3]
		if !slices.Contains(labels, name) {
			errorf("%s: matches an unknown label %q", where, name)
		}
		if strings.HasPrefix(value, "$") || known[name] == nil {
			continue
		}
		values := []string{value}
		if op == "=~" || op == "!~" {
			values = strings.Split(value, "|")
		}
		for _, v := range values {
			if !slices.Contains(known[name], v) {
				errorf("%s: %s never has the value %q", where, name, v)
			}
		}
	}
	return problems
}

func report(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

type ruleFile struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// prometheusObjects reads the objects config/prometheus/kustomization.yaml lists, by kind.
func prometheusObjects(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join(configDir, "prometheus")
	var k struct {
		Resources []string `json:"resources"`
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &k)
	objects := map[string][]byte{}
	for _, r := range k.Resources {
		raw, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil || head.Kind == "" {
			t.Fatalf("%s: not a Kubernetes object: %v", r, err)
		}
		if head.APIVersion != "monitoring.coreos.com/v1" {
			t.Errorf("%s: apiVersion %q, want monitoring.coreos.com/v1", r, head.APIVersion)
		}
		if objects[head.Kind] != nil {
			t.Errorf("%s: a second %s", r, head.Kind)
		}
		objects[head.Kind] = raw
	}
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		if objects[kind] == nil {
			t.Errorf("config/prometheus has no %s", kind)
		}
	}
	return objects
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestAlertsQueryRunnerMetricsAndLinkTheirRunbook(t *testing.T) {
	types, labels := runnerCatalogue(t)
	raw := prometheusObjects(t)["PrometheusRule"]
	var rules ruleFile
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			alerts = append(alerts, r.Alert)
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: a rule without alert or expr: %+v", g.Name, r)
				continue
			}
			report(t, checkQuery(where, r.Expr, types, labels))
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s", where, a)
				}
			}
			if want := "https://github.com/gatewayops/genesys-gateway-operator#runbook-" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", where, r.Annotations["runbook_url"], want)
			}
			// An annotation can only use the labels the expression keeps.
			var kept []string
			for _, m := range grouping.FindAllStringSubmatch(r.Expr, -1) {
				for l := range strings.SplitSeq(m[1], ",") {
					kept = append(kept, strings.TrimSpace(l))
				}
			}
			for _, text := range r.Annotations {
				for _, m := range annotationLabel.FindAllStringSubmatch(text, -1) {
					if len(kept) > 0 && !slices.Contains(kept, m[1]) || !slices.Contains(labels, m[1]) {
						t.Errorf("%s: its annotations use $labels.%s, which its expression drops", where, m[1])
					}
				}
			}
		}
	}
	for _, want := range []string{"GenesysUnreachable", "GenesysAuthFailing", "ChatsFailing", "CapacityNearlyExhausted",
		"EscalationsRefused", "WebhookReceiverDown", "RunnerStatusStale", "ChatStoreWriteErrors"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
	if d := duplicates(alerts); len(d) > 0 {
		t.Errorf("alerts named twice: %v", d)
	}
}

func duplicates(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if seen[n] {
			out = append(out, n)
		}
		seen[n] = true
	}
	return out
}

// TestMonitorsSelectWhatTheOperatorDeploys checks the ServiceMonitor against the operator's
// metrics Service and the PodMonitor against the runner pods the operator renders.
func TestMonitorsSelectWhatTheOperatorDeploys(t *testing.T) {
	objects := prometheusObjects(t)

	type endpoint struct {
		Port, Path, Scheme string
		BearerTokenFile    string `json:"bearerTokenFile"`
		TLSConfig          *struct {
			InsecureSkipVerify bool `json:"insecureSkipVerify"`
		} `json:"tlsConfig"`
	}
	var sm struct {
		Spec struct {
			Selector  metav1.LabelSelector `json:"selector"`
			Endpoints []endpoint           `json:"endpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(objects["ServiceMonitor"], &sm); err != nil {
		t.Fatal(err)
	}
	var svc struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Ports []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	readYAML(t, filepath.Join(configDir, "default", "metrics_service.yaml"), &svc)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Metadata.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s; the metrics Service has %q", k, v, svc.Metadata.Labels[k])
		}
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints: %+v", sm.Spec.Endpoints)
	}
	ep := sm.Spec.Endpoints[0]
	if !slices.ContainsFunc(svc.Spec.Ports, func(p struct {
		Name string `json:"name"`
		Port int    `json:"port"`
	}) bool {
		return p.Name == ep.Port && p.Port == 8443
	}) {
		t.Errorf("the ServiceMonitor scrapes port %q; the Service has %+v", ep.Port, svc.Spec.Ports)
	}
	if ep.Scheme != "https" || ep.BearerTokenFile == "" || ep.TLSConfig == nil {
		t.Errorf("the operator's metrics need https with a bearer token and a TLS config: %+v", ep)
	}

	var pm struct {
		Spec struct {
			JobLabel            string               `json:"jobLabel"`
			Selector            metav1.LabelSelector `json:"selector"`
			PodMetricsEndpoints []endpoint           `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(objects["PodMonitor"], &pm); err != nil {
		t.Fatal(err)
	}
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	gw.Spec.Domain = "acme"
	sts := render.StatefulSet(gw, "example.com/genesys-gateway-operator:v1")
	pod := sts.Spec.Template
	for k, v := range pm.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("the PodMonitor selects %s=%s; runner pods have %q", k, v, pod.Labels[k])
		}
	}
	if pm.Spec.Selector.MatchLabels[gateway.LabelName] != gateway.Component {
		t.Errorf("the PodMonitor must select %s=%s", gateway.LabelName, gateway.Component)
	}
	if pm.Spec.JobLabel != gateway.LabelName {
		t.Errorf("jobLabel %q: the alerts' up{job=%q} needs %s", pm.Spec.JobLabel, gateway.Component, gateway.LabelName)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("PodMonitor endpoints: %+v", pm.Spec.PodMetricsEndpoints)
	}
	var port int32
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name != nil && *p.Name == pm.Spec.PodMetricsEndpoints[0].Port {
				port = *p.ContainerPort
			}
		}
	}
	if port != gateway.MetricsPort {
		t.Errorf("the PodMonitor scrapes port %q; the runner's metrics port (%d) is not named so", pm.Spec.PodMetricsEndpoints[0].Port, gateway.MetricsPort)
	}
}

func TestDashboardQueriesRunnerMetricsOfTheChosenGateway(t *testing.T) {
	types, labels := runnerCatalogue(t)
	raw, err := os.ReadFile(filepath.Join(configDir, "grafana", "genesys-gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var dash struct {
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, v := range dash.Templating.List {
		vars = append(vars, v.Name)
		if q, ok := v.Query.(map[string]any); ok {
			report(t, checkQuery("variable "+v.Name, strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(q["query"]), "label_values("), ")"), types, labels))
		}
	}
	for _, want := range []string{"datasource", "namespace", "gateway"} {
		if !slices.Contains(vars, want) {
			t.Errorf("the dashboard has no variable %s", want)
		}
	}
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, target := range p.Targets {
			where := fmt.Sprintf("panel %q", p.Title)
			report(t, checkQuery(where, target.Expr, types, labels))
			for _, m := range regexp.MustCompile(`\b(genesys_[a-z0-9_]+)\{([^}]*)\}`).FindAllStringSubmatch(target.Expr, -1) {
				queried[m[1]] = true
				if !strings.Contains(m[2], `namespace=~"$namespace"`) || !strings.Contains(m[2], `gateway=~"$gateway"`) {
					t.Errorf("%s: %s is not limited to $namespace and $gateway", where, m[1])
				}
			}
			if !strings.Contains(target.Expr, "{") {
				t.Errorf("%s: %q selects no gateway", where, target.Expr)
			}
		}
	}
	for _, want := range []string{"genesys_chatrunner_chats", "genesys_chatrunner_time_to_agent_seconds_bucket",
		"genesys_chatrunner_gms_errors_total", "genesys_chatrunner_capacity", "genesys_chatrunner_api_requests_total",
		"genesys_chatrunner_api_request_duration_seconds_bucket", "genesys_chatrunner_webhook_delivered_total",
		"genesys_chatrunner_store_writes_total", "genesys_chatrunner_chats_handed_over_total"} {
		if !queried[want] {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

// TestCheckQueryCatchesMistakes guards the checks above against passing everything.
func TestCheckQueryCatchesMistakes(t *testing.T) {
	types, labels := runnerCatalogue(t)
	for _, q := range []string{
		`genesys_chatrunner_chat{state="Connected"}`,
		`rate(genesys_chatrunner_chats_bucket[5m])`,
		`sum by (chat) (genesys_chatrunner_chats)`,
		`genesys_chatrunner_chats{state=~"Connected|Talking"}`,
		`genesys_chatrunner_api_requests_total{route="GET /v1/chats/r0-1"}`,
		`kube_pod_status_ready{pod="x"}`,
		`sum(rate(genesys_chatrunner_gms_errors_total[5m])`,
	} {
		if len(checkQuery("probe", q, types, labels)) == 0 {
			t.Errorf("checkQuery passed %q", q)
		}
	}
}

// TestEngineReportsTheTimesOfItsChats runs a chat through the engine against the GMS
// simulator: its agent's join and its end reach the histograms.
func TestEngineReportsTheTimesOfItsChats(t *testing.T) {
	m, reg := newMetrics(t)
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{Observers: []chat.Observer{m}})
	ctx := t.Context()
	v, _, err := env.Manager.Escalate(ctx, chat.Escalation{ConversationID: "conv-times", Domain: "acme", User: chat.User{FirstName: "Jane"}})
	if err != nil {
		t.Fatal(err)
	}
	until := func(what string, ok func(chat.View) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if v, err = env.Manager.Get(v.ID); err == nil && ok(v) {
				return
			}
		}
		t.Fatalf("the chat is not %s: %+v, %v", what, v, err)
	}
	until("waiting", func(v chat.View) bool { return v.GenesysChatID != "" })
	if err := env.Sim.AgentJoin(v.GenesysChatID, gmssim.Agent{Nickname: "Alice"}); err != nil {
		t.Fatal(err)
	}
	until("connected", func(v chat.View) bool { return v.State == chatv1alpha1.ChatConnected })
	if _, err := env.Manager.Close(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if n := sample(t, reg, "genesys_chatrunner_time_to_agent_seconds").GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("time to agent: %d observations, want 1", n)
	}
	d := sample(t, reg, "genesys_chatrunner_chat_duration_seconds", "to_state", "Ended", "reason", "UserClosed").GetHistogram()
	if d.GetSampleCount() != 1 || d.GetSampleSum() <= 0 {
		t.Errorf("chat duration: count %d, sum %v; want 1 and more than 0", d.GetSampleCount(), d.GetSampleSum())
	}
}
