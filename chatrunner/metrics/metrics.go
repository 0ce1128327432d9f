// Package metrics holds a chat runner's Prometheus metrics. Labels take values from
// bounded sets only (states, reasons, operations, error codes): never a chat, a
// conversation, an agent or a secure key.
package metrics

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names start genesys_chatrunner_.
const (
	metricNamespace = "genesys"
	subsystem       = "chatrunner"
)

// Buckets of the chat histograms: an agent joins within seconds to the escalation timeout
// (minutes); a chat lasts seconds (refused, no agent) to hours.
var (
	timeToAgentBuckets  = []float64{1, 2.5, 5, 10, 15, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800}
	chatDurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400}
)

// gatewayLabels are the constant labels of every metric of a gateway's runner, from its
// namespace/name.
func gatewayLabels(gateway string) prometheus.Labels {
	ns, name, _ := strings.Cut(gateway, "/")
	return prometheus.Labels{"namespace": ns, "gateway": name}
}

// gatewayDesc describes a metric of a gateway's runner read at scrape time (a collector's).
func gatewayDesc(gateway, name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metricNamespace, subsystem, name), help, nil, gatewayLabels(gateway))
}

// Metrics are one runner's collectors. Its methods are safe for concurrent use.
type Metrics struct {
	chats         *prometheus.GaugeVec
	transitions   *prometheus.CounterVec
	gmsDuration   *prometheus.HistogramVec
	gmsErrors     *prometheus.CounterVec
	gmsRetries    *prometheus.CounterVec
	pollLateness  prometheus.Histogram
	pollsDeferred prometheus.Counter
	statusWrites  prometheus.Counter
	timeToAgent   prometheus.Histogram
	chatDuration  *prometheus.HistogramVec

	codes *codeSet
}

// New registers a runner's metrics on reg, each with the constant labels namespace and
// gateway of the runner's gateway, given as namespace/name. A nil reg registers nothing.
func New(reg prometheus.Registerer, gateway string) *Metrics {
	labels := gatewayLabels(gateway)
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricNamespace, Subsystem: subsystem, Name: name, Help: help, ConstLabels: labels}
	}
	histogram := func(name, help string, buckets []float64) prometheus.HistogramOpts {
		o := opts(name, help)
		return prometheus.HistogramOpts{Namespace: o.Namespace, Subsystem: o.Subsystem, Name: o.Name, Help: o.Help,
			ConstLabels: o.ConstLabels, Buckets: buckets}
	}
	m := &Metrics{
		chats: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("chats",
			"Chats of the runner by state: live ones, and ended ones it still reports.")), []string{"state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts(opts("chat_transitions_total",
			"Chat transitions by the state reached and the end reason (none when there is none).")), []string{"to_state", "reason"}),
		gmsDuration: prometheus.NewHistogramVec(histogram("gms_request_duration_seconds",
			"Duration of Chat API calls by operation, each attempt counted, failed ones included.",
			[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}), []string{"operation"}),
		gmsErrors: prometheus.NewCounterVec(prometheus.CounterOpts(opts("gms_errors_total",
			"Failed Chat API calls by operation and error code.")), []string{"operation", "code"}),
		gmsRetries: prometheus.NewCounterVec(prometheus.CounterOpts(opts("gms_retries_total",
			"Retried Chat API calls by operation.")), []string{"operation"}),
		pollLateness: prometheus.NewHistogram(histogram("poll_lateness_seconds",
			"How late scheduled polls of chats started.",
			[]float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
		pollsDeferred: prometheus.NewCounter(prometheus.CounterOpts(opts("polls_deferred_total",
			"Turns of a chat that could not start when due because its previous poll was still in flight (a slow Genesys, or a runner short of CPU): each runs when that poll ends."))),
		statusWrites: prometheus.NewCounter(prometheus.CounterOpts(opts("status_writes_total",
			"Writes of the runner's entry of the gateway's status."))),
		timeToAgent: prometheus.NewHistogram(histogram("time_to_agent_seconds",
			"Time from a chat's escalation to its agent joining, for chats an agent joined.", timeToAgentBuckets)),
		chatDuration: prometheus.NewHistogramVec(histogram("chat_duration_seconds",
			"Time from a chat's escalation to its end, by the state it ended in and the end reason.", chatDurationBuckets),
			[]string{"to_state", "reason"}),
		codes: newCodeSet(maxCodes),
	}
	if reg != nil {
		m.chats = register(reg, m.chats)
		m.transitions = register(reg, m.transitions)
		m.gmsDuration = register(reg, m.gmsDuration)
		m.gmsErrors = register(reg, m.gmsErrors)
		m.gmsRetries = register(reg, m.gmsRetries)
		m.pollLateness = register(reg, m.pollLateness)
		m.pollsDeferred = register(reg, m.pollsDeferred)
		m.statusWrites = register(reg, m.statusWrites)
		m.timeToAgent = register(reg, m.timeToAgent)
		m.chatDuration = register(reg, m.chatDuration)
	}
	return m
}

// register registers a collector, or returns the equal one registered before (a runner
// restarted in the same process). Any other failure is a programming error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Errorf("registering chat runner metrics: %w", err))
}
