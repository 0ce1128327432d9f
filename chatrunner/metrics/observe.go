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

// Transitioned counts a chat transition by the state it reached and its end reason, and
// observes the time to agent of a chat an agent joined and the duration of a chat that
// ended. The agent's join has Genesys' time, the request the runner's: a clock skew that
// would make it negative counts as zero.
func (m *Metrics) Transitioned(t chat.Transition) {
	to, reason := stateLabel(t.To), reasonLabel(t.Reason)
	m.transitions.WithLabelValues(to, reason).Inc()
	if t.RequestTime.IsZero() {
		return
	}
	switch {
	case t.To == chatv1alpha1.ChatConnected && !t.ConnectTime.IsZero():
		m.timeToAgent.Observe(max(t.ConnectTime.Sub(t.RequestTime), 0).Seconds())
	case !t.EndTime.IsZero(): // set once a chat ended, transferred or failed
		m.chatDuration.WithLabelValues(to, reason).Observe(max(t.EndTime.Sub(t.RequestTime), 0).Seconds())
	}
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

// PollDeferred counts a chat's turn that could not start when due
// (chat.Options.PollDeferred).
func (m *Metrics) PollDeferred() {
	m.pollsDeferred.Inc()
}

// StatusWritten counts a write of the runner's status entry (report.StatusOptions.OnWrite).
func (m *Metrics) StatusWritten() {
	m.statusWrites.Inc()
}
