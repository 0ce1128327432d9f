package chat

import (
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// apply turns one new Genesys transcript event into the chat's state and agent-side
// events; called with c.mu held. The client's own events and unknown types are ignored;
// Genesys' idle warning and close become idleAlert and idleClose with canned text; an
// agent's FileUploaded becomes fileUploaded with the file and its download path.
func (m *Manager) apply(c *chat, e gms.Event) {
	s := m.Settings()
	at := m.clock.Now()
	if e.UTCTime > 0 {
		at = time.UnixMilli(e.UTCTime)
	}
	fromAgent := e.From.Type == gms.ParticipantAgent || e.From.Type == gms.ParticipantSupervisor
	fromClient := e.From.Type == gms.ParticipantClient
	switch {
	case e.Type == gms.EventParticipantJoined && fromAgent:
		a := agentOf(s, e)
		c.agents[e.From.ParticipantID] = a
		c.agent = a
		if c.state == chatv1alpha1.ChatWaitingForAgent {
			c.connectTime = at
			m.setState(c, chatv1alpha1.ChatConnected)
		}
		c.events.append(Event{Kind: KindAgentJoined, Time: at, Agent: a.Name})
		m.notice(c, CannedAgentJoined, at)
	case e.Type == gms.EventParticipantLeft && fromAgent:
		c.events.append(Event{Kind: KindAgentLeft, Time: at, Agent: m.speaker(c, s, e)})
	case e.Type == gms.EventMessage && fromAgent:
		c.events.append(Event{Kind: KindMessage, Time: at, Agent: m.speaker(c, s, e), Text: e.Text, MessageType: e.MessageType})
	case e.Type == gms.EventTypingStarted && fromAgent:
		c.events.append(Event{Kind: KindTypingStarted, Time: at, Agent: m.speaker(c, s, e)})
	case e.Type == gms.EventTypingStopped && fromAgent:
		c.events.append(Event{Kind: KindTypingStopped, Time: at, Agent: m.speaker(c, s, e)})
	case e.Type == gms.EventPushURL && fromAgent:
		c.events.append(Event{Kind: KindPushURL, Time: at, Agent: m.speaker(c, s, e), URL: e.Text})
	case e.Type == gms.EventFileUploaded && fromAgent:
		if f := fileRefOf(c.id, e); f != nil {
			c.events.append(Event{Kind: KindFileUploaded, Time: at, Agent: m.speaker(c, s, e), Text: f.Name, URL: f.URL,
				Data: noticeData(e.UserData), File: f})
		}
	case (e.Type == gms.EventMessage || e.Type == gms.EventNotice || e.Type == gms.EventCustomNotice) && !fromClient:
		c.events.append(Event{Kind: KindNotice, Time: at, Text: e.Text, Data: noticeData(e.UserData)})
	case e.Type == gms.EventIdleAlert:
		// The bot warns its user in the gateway's locale; Genesys' text is in the Chat
		// Server's language.
		c.events.append(Event{Kind: KindIdleAlert, Time: at, Canned: CannedIdleAlert, Text: s.Canned(CannedIdleAlert, c.agent.Name)})
	case e.Type == gms.EventIdleClose:
		c.idleClosed = true
		c.events.append(Event{Kind: KindIdleClose, Time: at, Canned: CannedIdleClose, Text: s.Canned(CannedIdleClose, c.agent.Name)})
	}
}

// speaker is the display name of an event's agent: the one resolved when that participant
// joined, or resolved now.
func (m *Manager) speaker(c *chat, s *Settings, e gms.Event) string {
	if a, ok := c.agents[e.From.ParticipantID]; ok {
		return a.Name
	}
	return agentOf(s, e).Name
}
