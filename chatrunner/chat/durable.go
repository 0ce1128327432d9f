package chat

import (
	"errors"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// placement is where a chat's record lives: a runner ordinal's store and a shard of it.
type placement struct {
	ordinal, shard int
}

// noStore is the placement of chats of a manager without a store.
var noStore = placement{shard: -1}

// savedMark is what a chat's last put record said, as far as it changes while the chat
// runs: a put is skipped when none of it changed.
type savedMark struct {
	state            string
	agent            string
	alias            string
	position         int
	nextSeq          int64
	webhookDelivered int64
	clientMessages   int
	lastClientID     string
}

// mark returns a chat's savedMark now; called with c.mu held.
func (c *chat) mark() savedMark {
	m := savedMark{
		state:            string(c.state),
		agent:            c.agent.Name,
		nextSeq:          c.events.next(),
		webhookDelivered: c.webhookDelivered,
		clientMessages:   len(c.clientMessages),
	}
	if c.session != nil {
		m.alias = c.session.Alias()
	}
	m.position = c.transcript.Position()
	if n := len(c.clientMessages); n > 0 {
		m.lastClientID = c.clientMessages[n-1]
	}
	return m
}

// record returns a chat's durable record; called with c.mu held.
func (c *chat) record() chatstore.Record {
	r := chatstore.Record{
		ID:                 c.id,
		ConversationID:     c.escalation.ConversationID,
		State:              c.state,
		Agent:              c.agent.Name,
		AgentEmail:         c.agent.Email,
		RequestTime:        unixMilli(c.requestTime),
		WaitingTime:        unixMilli(c.waitingTime),
		ConnectTime:        unixMilli(c.connectTime),
		TranscriptPosition: c.transcript.Position(),
		NextSeq:            c.events.next(),
		WebhookDelivered:   c.webhookDelivered,
		ClientMessages:     c.clientMessages,
		LastError:          text.Truncate(c.lastError, chatstore.MaxErrorBytes),
	}
	if s := c.session; s != nil {
		r.Session = chatstore.Session{ChatID: s.ChatID, UserID: s.UserID, SecureKey: s.SecureKey(), Alias: s.Alias()}
	}
	return r
}

// encodeRecord encodes a chat's record, shortening what may be shortened (the agent, the
// error, the client message ids) when its escaped form is beyond the bound; called with
// c.mu held.
func (c *chat) encodeRecord() ([]byte, error) {
	r := c.record()
	b, err := chatstore.Encode(r)
	if errors.Is(err, chatstore.ErrTooLarge) {
		r.Agent, r.AgentEmail, r.LastError, r.ClientMessages = text.Truncate(r.Agent, 64), "", "", nil
		b, err = chatstore.Encode(r)
	}
	return b, err
}

// persist puts a live chat's record into its store when what resuming needs changed;
// called with c.mu held. The store coalesces the writes.
func (m *Manager) persist(c *chat) {
	st := m.opts.Store
	if st == nil || c.store.shard < 0 || c.over() {
		return // an ended chat's record is removed; one that left is its new owner's
	}
	mk := c.mark()
	if mk == c.saved {
		return
	}
	b, err := c.encodeRecord()
	if err != nil {
		m.log.Error(err, "Could not record chat: it will not survive this runner", "chat", c.id)
		return
	}
	c.saved = mk
	st.Put(c.store.ordinal, c.store.shard, c.id, b)
}

// unpersist forgets an ended chat's record; called with c.mu held.
func (m *Manager) unpersist(c *chat) {
	if st := m.opts.Store; st != nil && c.store.shard >= 0 {
		st.Remove(c.store.ordinal, c.store.shard, c.id)
	}
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
