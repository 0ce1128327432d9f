package gmssim

import (
	"maps"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// clientParticipantID is the client's participant id; agents count from 2.
const clientParticipantID = 1

// system is the sender of External events.
var system = gms.Participant{Nickname: "system", Type: gms.ParticipantExternal}

// Chat is a snapshot (deep copy) of a simulated chat. It never holds the secure key.
type Chat struct {
	// ID is the chat id.
	ID string `json:"id"`
	// UserID is the client's user id.
	UserID string `json:"userId"`
	// Alias is the chat's current alias.
	Alias string `json:"alias"`
	// Nickname is the client's current nickname.
	Nickname string `json:"nickname,omitempty"`
	// FirstName, LastName, Subject and EmailAddress are the Request Chat parameters.
	FirstName    string `json:"firstName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	Subject      string `json:"subject,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	// UserData is the chat's attached data: Request Chat's userData[...] merged with
	// updateData's.
	UserData map[string]string `json:"userData,omitempty"`
	// Agents are the agents currently in the chat, in joining order.
	Agents []Agent `json:"agents"`
	// Transcript is the whole transcript; Transcript[i] has index i+1.
	Transcript []gms.Event `json:"transcript"`
	// Ended is true once the chat has ended.
	Ended bool `json:"ended"`
	// LastRequest is the time of the client's last request on this chat that reached it.
	LastRequest time.Time `json:"lastRequest"`
	// Files are the chat's files (the client's uploads and the agents' files), metadata
	// only; File returns a file's content.
	Files []FileInfo `json:"files,omitempty"`
}

// Agent is an agent of the simulated contact center.
type Agent struct {
	// Nickname is the agent's name in the transcript; required.
	Nickname string `json:"nickname"`
	// Email, when set, goes in the ParticipantJoined event's userData (gms.AgentEmailKey).
	Email string `json:"email,omitempty"`
}

type agentState struct {
	Agent
	pid int
}

// chat is a chat's live state, guarded by Simulator.mu.
type chat struct {
	id, userID, secureKey, alias string

	nickname, firstName, lastName, subject, email string
	userData                                      map[string]string

	agents  []agentState
	nextPID int
	// events is the transcript. Appended events are never modified, so a subslice taken under
	// the lock can be encoded after it.
	events []gms.Event

	ended bool
	// endDelivered is true once an answer told the client that the chat ended.
	endDelivered bool
	lastRequest  time.Time
	// maxGap is the longest time between two of the client's requests on the chat since
	// the last ResetStats; endedBy says which idle rule ended the chat ("" for another end).
	maxGap  time.Duration
	endedBy string
	// lastActivity is the time of the last event that counts as activity for the
	// inactivity control (inactivity.go); idleAlerted says its IdleAlert was sent.
	lastActivity time.Time
	idleAlerted  bool
	// files are the chat's files, in upload order; downloads counts its downloads.
	files     []storedFile
	downloads int
}

func (c *chat) client() gms.Participant {
	return gms.Participant{Nickname: c.nickname, ParticipantID: clientParticipantID, Type: gms.ParticipantClient}
}

func (a agentState) participant() gms.Participant {
	return gms.Participant{Nickname: a.Nickname, ParticipantID: a.pid, Type: gms.ParticipantAgent}
}

// add appends an event dated now, numbering it.
func (c *chat) add(now time.Time, ev gms.Event) gms.Event {
	ev.Index = len(c.events) + 1
	ev.UTCTime = now.UnixMilli()
	c.events = append(c.events, ev)
	if countsAsActivity(ev.Type) {
		c.lastActivity, c.idleAlerted = now, false
	}
	return ev
}

// end ends the chat.
func (c *chat) end() { c.ended = true }

// currentAgent returns the last agent who joined and has not left.
func (c *chat) currentAgent() (agentState, bool) {
	if len(c.agents) == 0 {
		return agentState{}, false
	}
	return c.agents[len(c.agents)-1], true
}

// delta returns the events for transcriptPosition p and the next position: the events with
// index >= p (none for p <= 0) and last index + 1, or p when there is none (the transcript's
// end for p <= 0). With dup, the last event before p is sent again first.
func (c *chat) delta(p int, dup bool) ([]gms.Event, int) {
	n := len(c.events)
	if p <= 0 {
		return nil, n + 1
	}
	var evs []gms.Event
	next := p
	if p <= n {
		evs = c.events[p-1 : n : n]
		next = n + 1
	}
	if dup && p >= 2 && n >= 1 {
		last := min(p-1, n)
		evs = append([]gms.Event{c.events[last-1]}, evs...)
	}
	return evs, next
}

// expire ends the chat when its client has been idle for longer than timeout.
func (c *chat) expire(now time.Time, timeout time.Duration) {
	if c.ended || timeout <= 0 || now.Sub(c.lastRequest) <= timeout {
		return
	}
	c.add(c.lastRequest.Add(timeout), gms.Event{
		From: system,
		Type: gms.EventIdleClose,
		Text: "The chat was closed because the customer was inactive.",
	})
	c.end()
	c.endedBy = endedByIdleTimeout
}

// snapshot deep-copies the chat.
func (c *chat) snapshot() Chat {
	out := Chat{
		ID:           c.id,
		UserID:       c.userID,
		Alias:        c.alias,
		Nickname:     c.nickname,
		FirstName:    c.firstName,
		LastName:     c.lastName,
		Subject:      c.subject,
		EmailAddress: c.email,
		UserData:     maps.Clone(c.userData),
		Agents:       make([]Agent, len(c.agents)),
		Transcript:   make([]gms.Event, len(c.events)),
		Ended:        c.ended,
		LastRequest:  c.lastRequest,
	}
	for i, a := range c.agents {
		out.Agents[i] = a.Agent
	}
	for _, f := range c.files {
		out.Files = append(out.Files, f.FileInfo)
	}
	for i, ev := range c.events {
		ev.UserData = maps.Clone(ev.UserData)
		out.Transcript[i] = ev
	}
	return out
}

// Chats returns snapshots of all chats, in creation order.
func (s *Simulator) Chats() []Chat {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Chat, len(s.order))
	for i, c := range s.order {
		s.idle(c, now)
		out[i] = c.snapshot()
	}
	return out
}

// Chat returns a snapshot of the chat with id, and whether it exists.
func (s *Simulator) Chat(id string) (Chat, bool) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return Chat{}, false
	}
	s.idle(c, now)
	return c.snapshot(), true
}
