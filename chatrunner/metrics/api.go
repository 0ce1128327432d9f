package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the escalation API metrics' source label.
const (
	// sourceBot is a call from a bot (or any client but another runner).
	sourceBot = "bot"
	// sourceRunner is a call another runner forwarded to this one: the bot's call counts
	// on the runner it reached first too.
	sourceRunner = "runner"
)

// apiBuckets bound the escalation API's latency: calls take milliseconds, Request Chat
// waits for the chat store's write (up to seconds), long polls up to their wait (60 s).
var apiBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// API counts and times the calls of the escalation API by route (the route pattern, such
// as "POST /v1/chats" or "GET /v1/chats/{id}", never a chat id), status code and source.
// It implements escalation.APIObserver.
//
// An event stream (server-sent events) counts once its head is written (its status is
// known then) and is never timed: a stream lasts as long as its reader stays, which says
// nothing of the API's latency. The streams open at a time are a gauge by route.
type API struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	streams  *prometheus.GaugeVec
}

// NewAPI registers the escalation API metrics of a gateway (namespace/name) with reg; a
// nil reg registers nothing.
func NewAPI(reg prometheus.Registerer, gateway string) *API {
	labels := gatewayLabels(gateway)
	a := &API{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNamespace, Subsystem: subsystem,
			Name: "api_requests_total", ConstLabels: labels,
			Help: "Escalation API calls by route pattern, HTTP status code and source (bot, or runner for a call forwarded by another runner); event streams count when they open.",
		}, []string{"route", "code", "source"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricNamespace, Subsystem: subsystem,
			Name: "api_request_duration_seconds", ConstLabels: labels, Buckets: apiBuckets,
			Help: "Duration of escalation API calls by route pattern and source, until the answer ended; event streams are not timed.",
		}, []string{"route", "source"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricNamespace, Subsystem: subsystem,
			Name: "api_open_streams", ConstLabels: labels,
			Help: "Escalation API event streams (server-sent events) open now, by route pattern.",
		}, []string{"route"}),
	}
	if reg != nil {
		a.requests = register(reg, a.requests)
		a.duration = register(reg, a.duration)
		a.streams = register(reg, a.streams)
	}
	return a
}

// Served counts a call that ended (not a stream) and observes its duration; forwarded
// tells a call another runner forwarded.
func (a *API) Served(route string, code int, forwarded bool, d time.Duration) {
	route, source := bounded(route), sourceLabel(forwarded)
	a.requests.WithLabelValues(route, codeLabel(code), source).Inc()
	a.duration.WithLabelValues(route, source).Observe(max(d, 0).Seconds())
}

// StreamOpened counts an event stream whose head was written with code, and counts it
// open until StreamClosed.
func (a *API) StreamOpened(route string, code int, forwarded bool) {
	route = bounded(route)
	a.requests.WithLabelValues(route, codeLabel(code), sourceLabel(forwarded)).Inc()
	a.streams.WithLabelValues(route).Inc()
}

// StreamClosed counts an event stream of route closed.
func (a *API) StreamClosed(route string) {
	a.streams.WithLabelValues(bounded(route)).Dec()
}

// maxRouteLength bounds a route label value. The escalation middleware passes its own
// fixed patterns only; the bound guards against a raw path ever becoming a label.
const maxRouteLength = 64

// bounded keeps a route pattern of a sane length, else other.
func bounded(route string) string {
	if route == "" || len(route) > maxRouteLength {
		return other
	}
	return route
}

func codeLabel(code int) string {
	if code < 100 || code > 599 {
		return other
	}
	return strconv.Itoa(code)
}

func sourceLabel(forwarded bool) string {
	if forwarded {
		return sourceRunner
	}
	return sourceBot
}
