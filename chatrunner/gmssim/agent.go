package gmssim

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Errors of the agent-side calls; test them with errors.Is.
var (
	// ErrNoSuchChat is returned for an unknown chat id.
	ErrNoSuchChat = errors.New("no such chat")
	// ErrChatEnded is returned for a chat that has ended.
	ErrChatEnded = errors.New("chat has ended")
	// ErrNoAgent is returned when the call needs an agent in the chat and there is none.
	ErrNoAgent = errors.New("no agent in the chat")
	// ErrNoNickname is returned when an agent has no nickname.
	ErrNoNickname = errors.New("the agent needs a nickname")
)

// agentCall runs f on the live chat chatID at the clock's now, under the lock.
func (s *Simulator) agentCall(chatID string, f func(c *chat, now time.Time) error) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return fmt.Errorf("chat %s: %w", chatID, ErrNoSuchChat)
	}
	s.idle(c, now)
	if c.ended {
		return fmt.Errorf("chat %s: %w", chatID, ErrChatEnded)
	}
	if err := f(c, now); err != nil {
		return fmt.Errorf("chat %s: %w", chatID, err)
	}
	return nil
}

// withAgent runs f with the chat's current agent.
func withAgent(f func(c *chat, a agentState, now time.Time)) func(c *chat, now time.Time) error {
	return func(c *chat, now time.Time) error {
		a, ok := c.currentAgent()
		if !ok {
			return ErrNoAgent
		}
		f(c, a, now)
		return nil
	}
}

// join adds an agent with a ParticipantJoined event.
func (c *chat) join(now time.Time, a Agent) error {
	if a.Nickname == "" {
		return ErrNoNickname
	}
	st := agentState{Agent: a, pid: c.nextPID}
	c.nextPID++
	c.agents = append(c.agents, st)
	ev := gms.Event{From: st.participant(), Type: gms.EventParticipantJoined}
	if a.Email != "" {
		ev.UserData = map[string]string{gms.AgentEmailKey: a.Email}
	}
	c.add(now, ev)
	return nil
}

// leave removes the current agent with a ParticipantLeft event.
func (c *chat) leave(now time.Time, a agentState) {
	c.agents = c.agents[:len(c.agents)-1]
	c.add(now, gms.Event{From: a.participant(), Type: gms.EventParticipantLeft})
}

// AgentJoin makes a join the chat: ParticipantJoined from {type Agent, nickname}; with an Email
// the event's userData carries gms.AgentEmailKey.
func (s *Simulator) AgentJoin(chatID string, a Agent) error {
	return s.agentCall(chatID, func(c *chat, now time.Time) error { return c.join(now, a) })
}

// AgentMessage sends text from the current agent.
func (s *Simulator) AgentMessage(chatID, text string) error {
	return s.agentCall(chatID, withAgent(func(c *chat, a agentState, now time.Time) {
		c.add(now, gms.Event{From: a.participant(), Type: gms.EventMessage, Text: text})
	}))
}

// AgentTyping reports the current agent typing (TypingStarted) or not (TypingStopped).
func (s *Simulator) AgentTyping(chatID string, typing bool) error {
	typ := gms.EventTypingStopped
	if typing {
		typ = gms.EventTypingStarted
	}
	return s.agentCall(chatID, withAgent(func(c *chat, a agentState, now time.Time) {
		c.add(now, gms.Event{From: a.participant(), Type: typ})
	}))
}

// AgentPushURL pushes url from the current agent.
func (s *Simulator) AgentPushURL(chatID, url string) error {
	return s.agentCall(chatID, withAgent(func(c *chat, a agentState, now time.Time) {
		c.add(now, gms.Event{From: a.participant(), Type: gms.EventPushURL, Text: url})
	}))
}

// AgentLeave makes the current agent leave (ParticipantLeft); the chat goes on.
func (s *Simulator) AgentLeave(chatID string) error {
	return s.agentCall(chatID, withAgent(func(c *chat, a agentState, now time.Time) {
		c.leave(now, a)
	}))
}

// Transfer makes the current agent leave, then to join. Without a current agent, to only
// joins.
func (s *Simulator) Transfer(chatID string, to Agent) error {
	return s.agentCall(chatID, func(c *chat, now time.Time) error {
		if to.Nickname == "" {
			return ErrNoNickname
		}
		if a, ok := c.currentAgent(); ok {
			c.leave(now, a)
		}
		return c.join(now, to)
	})
}

// Notice adds a Notice from External (e.g. an estimated wait time).
func (s *Simulator) Notice(chatID, text string) error {
	return s.agentCall(chatID, func(c *chat, now time.Time) error {
		c.add(now, gms.Event{From: system, Type: gms.EventNotice, Text: text})
		return nil
	})
}

// Close is the agent closing the chat: every agent present leaves (ParticipantLeft, the
// current one first), then the chat ends.
func (s *Simulator) Close(chatID string) error {
	return s.agentCall(chatID, func(c *chat, now time.Time) error {
		for len(c.agents) > 0 {
			a, _ := c.currentAgent()
			c.leave(now, a)
		}
		c.end()
		return nil
	})
}
