package chat

import (
	"errors"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// RefusedError is a user-side call (a message, typing, a pushed URL) that Genesys itself
// refused with statusCode 2: the call did not happen. It is an error to the bot even when
// the same answer ended the chat, so that a bot never believes a refused message reached
// the agent. Ended tells whether the chat is over with it.
type RefusedError struct {
	// What is the refused call, e.g. "sending the message".
	What string
	// Ended is true when the chat ended with the refusal (chatEnded, or a Refresh that
	// confirmed the end).
	Ended bool
	// Err is Genesys' answer: its error codes and advice.
	Err *gms.Error
}

func (e *RefusedError) Error() string {
	msg := "Genesys refused " + e.What + ": " + e.Err.Error()
	if e.Ended {
		return msg + "; the chat has ended"
	}
	return msg + "; the chat goes on"
}

// Unwrap returns Genesys' answer.
func (e *RefusedError) Unwrap() error { return e.Err }

// refusal returns err as Genesys' own statusCode 2 verdict on a call, or nil. A statusCode
// 2 behind a non-2xx HTTP status is a proxy's or server's failed call instead.
func refusal(err error) *gms.Error {
	var gerr *gms.Error
	if errors.As(err, &gerr) && gerr.StatusCode == gms.StatusUnrecoverable && gerr.HTTPStatus/100 == 2 {
		return gerr
	}
	return nil
}

// mayHaveEnded returns err when it is a statusCode 2 without chatEnded: per Genesys' docs
// the chat may have ended, and only a Refresh tells.
func mayHaveEnded(err error) *gms.Error {
	if gerr := refusal(err); gerr != nil && !gerr.ChatEnded {
		return gerr
	}
	return nil
}

// confirmAlive follows a statusCode 2 without chatEnded (cause) with a Refresh, as Genesys'
// docs advise. Its events apply. When it shows the chat alive, the chat goes on; when it
// shows the chat over (chatEnded), the chat ends as Genesys says; when it fails
// (statusCode 2, or no answer after retries), the chat ends Failed for cause. An ended
// chat is disconnected on a best-effort basis. It reports whether the chat goes on;
// called without c.mu held.
func (m *Manager) confirmAlive(c *chat, cause *gms.Error) bool {
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return false
	}
	sess, pos := c.session, c.transcript.Position()
	c.mu.Unlock()

	resp, err := m.opts.GMS.Refresh(m.base, sess, pos)
	if m.base.Err() != nil {
		return false // shutting down: the chat is not at fault
	}
	m.observeCall(err, pollCall)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over() {
		return false
	}
	for _, e := range c.transcript.Accept(resp) {
		m.apply(c, e)
	}
	if terminal(c.state) {
		return false
	}
	if err == nil && resp != nil && !resp.ChatEnded {
		m.persist(c)
		m.log.Info("Kept chat after a statusCode 2: a Refresh showed it alive", "chat", c.id, "error", cause.Error())
		return true
	}
	if err == nil {
		// Over as Genesys tells it (an agent's close, an idle timeout): it ends that way.
		m.log.Info("Ended chat after a statusCode 2: a Refresh showed it over", "chat", c.id, "error", cause.Error())
		m.endByGenesys(c, nil)
	} else {
		m.log.Info("Ended chat after a statusCode 2: a Refresh could not find it", "chat", c.id, "error", cause.Error(), "refreshError", err.Error())
		m.endByGenesys(c, cause)
	}
	go m.disconnect(c.id, sess) // best-effort: Genesys may have dropped the chat already
	return false
}
