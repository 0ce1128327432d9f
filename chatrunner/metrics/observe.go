package metrics

import (
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

var _ chat.Observer = (*Metrics)(nil)

// SetChats sets the chats gauge of every state from counts; states absent from counts
// count zero.
func (m *Metrics) SetChats(counts map[chatv1alpha1.ChatState]int) {
	for _, s := range states {
		m.chats.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
}

// Transitioned counts a chat transition by the state it reached and its end reason.
func (m *Metrics) Transitioned(t chat.Transition) {
	m.transitions.WithLabelValues(stateLabel(t.To), reasonLabel(t.Reason)).Inc()
}

// Called observes one attempt of a Chat API call: its duration and, when it failed, its
// error code.
func (m *Metrics) Called(op gms.Operation, d time.Duration, err error) {
	label := operationLabel(op)
	m.gmsDuration.WithLabelValues(label).Observe(d.Seconds())
	if err != nil {
		m.gmsErrors.WithLabelValues(label, m.codes.label(err)).Inc()
	}
}

// Retried counts a Chat API call about to be tried again.
func (m *Metrics) Retried(op gms.Operation) {
	m.gmsRetries.WithLabelValues(operationLabel(op)).Inc()
}

// ObservePollLateness observes how late a scheduled poll started.
func (m *Metrics) ObservePollLateness(d time.Duration) {
	m.pollLateness.Observe(max(d, 0).Seconds())
}

// StatusWritten counts a write of the runner's status entry (report.StatusOptions.OnWrite).
func (m *Metrics) StatusWritten() {
	m.statusWrites.Inc()
}
