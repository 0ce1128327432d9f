package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Webhook counts the deliveries to spec.runner.webhook, with no per-chat label. It
// implements webhook.Observer.
type Webhook struct {
	delivered, failed, retries prometheus.Counter
}

// NewWebhook registers the webhook counters of a gateway (namespace/name) with reg.
func NewWebhook(reg prometheus.Registerer, gateway string) *Webhook {
	counter := func(n, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricNamespace, Subsystem: subsystem, Name: n, Help: help,
			ConstLabels: gatewayLabels(gateway)})
	}
	w := &Webhook{
		delivered: counter("webhook_delivered_total", "Events the webhook took (2xx)."),
		failed:    counter("webhook_failed_total", "Events the webhook refused (4xx, not retried) or that were lost (their chat forgotten first)."),
		retries:   counter("webhook_retries_total", "Retried webhook deliveries (5xx, 408, 429, timeouts, network errors)."),
	}
	reg.MustRegister(w.delivered, w.failed, w.retries)
	return w
}

// WebhookDelivered counts an event delivered.
func (w *Webhook) WebhookDelivered() { w.delivered.Inc() }

// WebhookFailed counts an event refused or lost.
func (w *Webhook) WebhookFailed() { w.failed.Inc() }

// WebhookRetried counts a retry.
func (w *Webhook) WebhookRetried() { w.retries.Inc() }
