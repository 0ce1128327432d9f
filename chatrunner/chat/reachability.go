package chat

import (
	"errors"
	"net/http"

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
		m.counts.authFailed = false
		if m.counts.lastError != "" {
			m.counts.lastError = ""
			m.notify()
		}
		return
	}
	m.counts.authFailed = authFailure(err)
	if msg := err.Error(); msg != m.counts.lastError {
		m.counts.lastError = msg
		m.notify()
	}
}

// authFailure reports whether a Chat API call failed because Genesys (or its proxy)
// refused the credentials, or none could be had.
func authFailure(err error) bool {
	var gerr *gms.Error
	if !errors.As(err, &gerr) {
		return false
	}
	return gerr.HTTPStatus == http.StatusUnauthorized || gerr.HTTPStatus == http.StatusForbidden || gerr.Code() == "auth"
}
