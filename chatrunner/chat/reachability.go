package chat

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// callKind says what a Chat API call was, for the runner's record of its outcome.
type callKind int

const (
	// requestCall is a Request Chat. Genesys refusing it (statusCode 2) counts as a
	// failure: no chat exists yet that the verdict could be about, so it is the service
	// that turns chats away.
	requestCall callKind = iota
	// pollCall is a Refresh; its success is the runner's lastPollTime.
	pollCall
	// sessionCall is any other call on an established chat: a message, typing, a pushed
	// URL, a Disconnect.
	sessionCall
	// probeCall is a probe (probeIfDue): GMS' answer on a chat that does not exist.
	probeCall
)

// observeCall records the outcome of one Chat API call, of any chat, in the runner's
// status: lastError (and authError) say whether Genesys answers the runner, which is what
// the operator's GenesysReachable reads. So the last call decides: a call Genesys
// answered clears them, a call it did not answer (no connection, an HTTP error, statusCode
// 1 after every retry, a refused credential) sets them, and they stay set while calls keep
// failing. Genesys' own statusCode 2 verdict on an established chat is an answer: that
// chat's error stays on its own status entry, and one ended chat does not hold
// GenesysReachable False on an idle gateway. A success puts every agent back in service.
func (m *Manager) observeCall(err error, kind callKind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		m.agents.restore()
		if kind == pollCall {
			m.counts.lastPoll = m.clock.Now()
		}
	}
	if err == nil || kind != requestCall && refusal(err) != nil {
		m.counts.answered, m.counts.failures = m.clock.Now(), 0
		m.counts.authFailed = false
		if m.counts.lastError != "" {
			m.counts.lastError = ""
			m.notify()
		}
		return
	}
	m.counts.failures++
	m.counts.authFailed = authFailure(err)
	if msg := err.Error(); msg != m.counts.lastError || m.counts.failures <= notifyFailures {
		m.counts.lastError = msg
		m.notify()
	}
}

// notifyFailures is how many failures in a row each make the runner write its status
// entry at once, also when the error is the same as the last one: the operator turns
// Ready False when genesysFailures reaches 3, and waiting for the next heartbeat (30 s)
// would delay that by as much. Further failures of the same error wait for the heartbeat,
// so that an outage under traffic does not cost a status write a second.
const notifyFailures = 10

// authFailure reports whether a Chat API call failed because Genesys (or its proxy)
// refused the credentials, or none could be had.
func authFailure(err error) bool {
	var gerr *gms.Error
	if !errors.As(err, &gerr) {
		return false
	}
	return gerr.HTTPStatus == http.StatusUnauthorized || gerr.HTTPStatus == http.StatusForbidden || gerr.Code() == "auth"
}

// Probing: a runner with no call that Genesys answered lately asks it itself, so that a
// gateway whose Genesys does not answer (a name that does not resolve, a wrong CA, refused
// credentials, a wrong service path) shows it before the first customer does, and one that
// recovers shows that within a probe.
const (
	// DefaultProbeIdle is how long without an answer from Genesys before a probe
	// (Options.ProbeIdle when 0): an idle gateway's runners probe this often; a busy one's
	// calls answer for them.
	DefaultProbeIdle = 30 * time.Second
	// DefaultProbeRetry is how often a runner whose last call or probe failed probes again
	// (Options.ProbeRetry when 0), so that recovery shows within it.
	DefaultProbeRetry = 10 * time.Second

	// probeTick is how often the runner looks whether a probe is due; at most half the
	// retry interval, so that a failing runner probes about every retry interval.
	probeTick = 2 * time.Second
)

// probeTimings are the manager's probe intervals: Options.ProbeIdle and ProbeRetry, the
// defaults when 0, and the tick that looks whether a probe is due.
func (m *Manager) probeTimings() (idle, retry, tick time.Duration) {
	idle, retry = m.opts.ProbeIdle, m.opts.ProbeRetry
	if idle <= 0 {
		idle = DefaultProbeIdle
	}
	if retry <= 0 {
		retry = DefaultProbeRetry
	}
	tick = min(probeTick, max(retry/2, time.Millisecond))
	return idle, retry, tick
}

// prober is a Chat API client that can probe (*gms.Client): Probe asks GMS a call that
// creates nothing.
type prober interface {
	Probe(ctx context.Context) error
}

// probeIfDue probes Genesys when no call was answered for the idle interval, or the last
// outcome was a failure and the retry interval passed since the last probe; at once at
// start (see probeTimings).
func (m *Manager) probeIfDue(ctx context.Context) {
	p, ok := m.opts.GMS.(prober)
	if !ok {
		return
	}
	idle, retry, _ := m.probeTimings()
	now := m.clock.Now()
	m.mu.Lock()
	due := m.counts.lastProbe.IsZero() ||
		now.Sub(m.counts.answered) >= idle && now.Sub(m.counts.lastProbe) >= retry ||
		m.counts.failures > 0 && now.Sub(m.counts.lastProbe) >= retry
	if due {
		m.counts.lastProbe = now
	}
	m.mu.Unlock()
	if !due {
		return
	}
	err := p.Probe(ctx)
	if ctx.Err() != nil {
		return
	}
	m.observeCall(err, probeCall)
}
