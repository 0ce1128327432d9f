package chat

import (
	"math"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Status is the runner's entry of the gateway's status, without pod and update time: its
// counters, last poll and error, and its newest chats (live ones first, then the most
// recently ended), at most 20, newest first.
func (m *Manager) Status() chatv1alpha1.RunnerStatus {
	s := m.Settings()
	m.mu.Lock()
	agents := m.agents.available()
	st := chatv1alpha1.RunnerStatus{
		ChatCounters: chatv1alpha1.ChatCounters{
			Agents:           int32(agents),
			Capacity:         int32(agents * s.MaxChatsPerAgent),
			ActiveChats:      int32(m.active.Len()),
			WaitingChats:     int32(m.counts.waiting),
			ConnectedChats:   int32(m.counts.connected),
			EndedChatsTotal:  m.counts.endedTotal,
			FailedChatsTotal: m.counts.failedTotal,
		},
		LastPollTime:          timeOrNil(m.counts.lastPoll),
		LastError:             m.counts.lastError,
		LastGenesysAnswerTime: timeOrNil(m.counts.answered),
		GenesysFailures:       int32(min(m.counts.failures, math.MaxInt32)),
		PollLagMilliseconds:   m.lag.lag(m.clock.Now()).Milliseconds(),
	}
	if m.counts.authFailed {
		st.AuthError = m.counts.lastError
	}
	picked := make([]*chat, 0, chatv1alpha1.MaxRunnerChats)
	for e := m.active.Back(); e != nil && len(picked) < chatv1alpha1.MaxRunnerChats; e = e.Prev() {
		picked = append(picked, e.Value.(*chat))
	}
	for i := len(m.ended) - 1; i >= 0 && len(picked) < chatv1alpha1.MaxRunnerChats; i-- {
		picked = append(picked, m.ended[i])
	}
	m.mu.Unlock()

	for _, c := range picked {
		c.mu.Lock()
		st.Chats = append(st.Chats, c.status())
		c.mu.Unlock()
	}
	slices.SortStableFunc(st.Chats, func(a, b chatv1alpha1.ChatStatus) int {
		return timeOf(b.RequestTime).Compare(timeOf(a.RequestTime))
	})
	return st
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
