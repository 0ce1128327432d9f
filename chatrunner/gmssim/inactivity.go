package gmssim

import (
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Texts of the inactivity control's events: Chat Server's defaults of the inactivity-control
// options message-alert and message-close.
const (
	idleAlertText = "Chat session will be closed soon due to inactivity of chat participants."
	idleCloseText = "Chat session closed due to inactivity of chat participants."
)

// countsAsActivity reports whether an event restarts the inactivity control. Chat Server's
// docs name a participant joining or leaving and a participant's message or notice "as
// defined by include-notices"; the simulator counts joins, leaves and messages, and no
// notice (include-notices unset is assumed), nor typing.
func countsAsActivity(eventType string) bool {
	switch eventType {
	case gms.EventParticipantJoined, gms.EventParticipantLeft, gms.EventMessage:
		return true
	}
	return false
}

// idle applies a chat's two idle rules at now, in the order their deadlines fall: Chat
// Server's inactivity control (Options.InactivityAlert and InactivityClose) and the
// client's request timeout (Options.IdleTimeout).
func (s *Simulator) idle(c *chat, now time.Time) {
	upTo := now
	if t := s.opts.IdleTimeout; t > 0 && c.lastRequest.Add(t).Before(upTo) {
		upTo = c.lastRequest.Add(t)
	}
	c.inactive(upTo, s.opts.InactivityAlert, s.opts.InactivityClose)
	c.expire(now, s.opts.IdleTimeout)
}

// inactive runs Chat Server's inactivity control up to now, as its docs describe the
// inactivity-control options timeout-alert and timeout-close: after alert without
// activity, an IdleAlert; after closeAfter more without activity, an IdleClose, and the
// chat ends. Activity in between restarts both (countsAsActivity). alert <= 0 disables it.
func (c *chat) inactive(now time.Time, alert, closeAfter time.Duration) {
	if c.ended || alert <= 0 {
		return
	}
	alertAt := c.lastActivity.Add(alert)
	if !now.After(alertAt) { // like the request timeout: exactly the timeout is not past it
		return
	}
	if !c.idleAlerted {
		c.add(alertAt, gms.Event{From: system, Type: gms.EventIdleAlert, Text: idleAlertText})
		c.idleAlerted = true
	}
	if closeAt := alertAt.Add(closeAfter); now.After(closeAt) {
		c.add(closeAt, gms.Event{From: system, Type: gms.EventIdleClose, Text: idleCloseText})
		c.end()
		c.endedBy = endedByInactivity
	}
}
