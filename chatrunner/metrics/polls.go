package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// pollsCollector reads the engine's poll load at scrape time.
type pollsCollector struct {
	load                     func() chat.PollLoad
	inFlight, waiting, limit *prometheus.Desc
}

// RegisterPolls registers the poll load of a gateway's (namespace/name) runner with reg,
// read at scrape time: with poll_lateness_seconds it tells a runner that waits on Genesys
// (polls in flight at the limit, waiting ones) from one short of CPU (lateness alone).
func RegisterPolls(reg prometheus.Registerer, gateway string, load func() chat.PollLoad) {
	desc := func(n, help string) *prometheus.Desc { return gatewayDesc(gateway, n, help) }
	register(reg, &pollsCollector{
		load: load,
		inFlight: desc("polls_in_flight",
			"Polls of chats waiting for Genesys' answer, or being acted on."),
		waiting: desc("polls_waiting",
			"Polls due that wait for a slot: the polls in flight are at their limit."),
		limit: desc("polls_in_flight_limit",
			"How many polls may be in flight at once: the polls due per second times the time a poll takes (smoothed), with headroom, within a floor and the connections kept to Genesys."),
	})
}

func (c *pollsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.waiting
	ch <- c.limit
}

func (c *pollsCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.load()
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(l.InFlight))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(l.Waiting))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(l.Limit))
}
