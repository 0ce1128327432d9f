package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// engineCollector reads the engine's figures at scrape time, once per scrape: its
// capacity, agents in service, Genesys' reachability and authentication.
type engineCollector struct {
	status    func() chatv1alpha1.RunnerStatus
	authError func() string

	capacity, agents, failures, lastAnswer, authFailing, pollLag *prometheus.Desc
}

// RegisterEngine registers the figures of the runner's engine (chat.Manager.Status) of a
// gateway (namespace/name) with reg, read at scrape time. authError, when not nil, is an
// authentication failure the engine does not know of (the Entra ID token), empty when
// there is none.
func RegisterEngine(reg prometheus.Registerer, gateway string, status func() chatv1alpha1.RunnerStatus, authError func() string) {
	desc := func(n, help string) *prometheus.Desc { return gatewayDesc(gateway, n, help) }
	register(reg, &engineCollector{
		status:    status,
		authError: authError,
		capacity: desc("capacity",
			"Chats the runner can carry at once: its agents in service times maxChatsPerAgent; escalations beyond it get 503."),
		agents: desc("agents_in_service",
			"The runner's escalation agents in service (an agent Genesys refused after every retry is out of service)."),
		failures: desc("genesys_failures",
			"The runner's Chat API calls and probes that failed since Genesys last answered one (0 while Genesys answers)."),
		lastAnswer: desc("genesys_last_answer_timestamp_seconds",
			"When Genesys last answered one of the runner's Chat API calls or probes (Unix time; 0 before the first)."),
		authFailing: desc("auth_failing",
			"1 while the runner fails to authenticate to Genesys (credentials refused, no Entra ID token), else 0."),
		pollLag: desc("poll_lag_seconds",
			"How late the runner's polls started, at most, in the last 10 s (a runner short of CPU falls behind and sheds new escalations)."),
	})
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.capacity, c.agents, c.failures, c.lastAnswer, c.authFailing, c.pollLag} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	var lastAnswer float64
	if t := st.LastGenesysAnswerTime; t != nil && !t.IsZero() {
		lastAnswer = float64(t.UnixMilli()) / 1000
	}
	authFailing := st.AuthError != ""
	if c.authError != nil && c.authError() != "" {
		authFailing = true
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(c.capacity, float64(st.Capacity))
	gauge(c.agents, float64(st.Agents))
	gauge(c.failures, float64(st.GenesysFailures))
	gauge(c.lastAnswer, lastAnswer)
	gauge(c.authFailing, boolValue(authFailing))
	gauge(c.pollLag, float64(st.PollLagMilliseconds)/1000)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
