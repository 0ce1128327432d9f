package chat

// maxFeedEvents bounds one Feed read over all chats, so that a gateway-wide stream holds
// at most this many events however many chats have news.
const maxFeedEvents = 500

// NewEvents are new events of one chat, in order, from a Feed read.
type NewEvents struct {
	ChatID string
	Events []Event
}

// Feed reads the events of every chat this runner holds (live, and ended within the
// retention) after the seq cursor holds for it (0 for a chat not in it), up to
// maxFeedEvents in all, and advances cursor past them. It drops the entries of chats the
// runner forgot, so that cursor stays as large as the chats held. It never waits: a
// gateway-wide stream calls it again on a timer, since no one channel tells of every
// chat's events.
func (m *Manager) Feed(cursor map[string]int64) []NewEvents {
	return m.feed(cursor, func(*chat) int64 { return 0 })
}

// feed is Feed where a chat not in cursor starts after start's seq for it.
func (m *Manager) feed(cursor map[string]int64, start func(*chat) int64) []NewEvents {
	m.mu.Lock()
	chats := make([]*chat, 0, len(m.chats))
	for _, c := range m.chats {
		chats = append(chats, c)
	}
	for id := range cursor {
		if _, ok := m.chats[id]; !ok {
			delete(cursor, id)
		}
	}
	m.mu.Unlock()
	var out []NewEvents
	n := 0
	for _, c := range chats {
		if n >= maxFeedEvents {
			break
		}
		c.mu.Lock()
		from, known := cursor[c.id]
		if !known {
			from = start(c)
		}
		evs, _ := c.events.after(from)
		c.mu.Unlock()
		if len(evs) == 0 {
			continue
		}
		evs = evs[:min(len(evs), maxFeedEvents-n)]
		n += len(evs)
		cursor[c.id] = evs[len(evs)-1].Seq
		out = append(out, NewEvents{ChatID: c.id, Events: evs})
	}
	return out
}

// WebhookSource is the engine as webhook delivery reads it: Feed starts a chat it has not
// seen after the seq its receiver took already (kept in the chat's record), so a runner
// that takes a chat over does not deliver again what the previous owner delivered, and
// Delivered records how far delivery got.
type WebhookSource struct{ m *Manager }

// Webhooks returns the engine as webhook delivery reads it.
func (m *Manager) Webhooks() WebhookSource { return WebhookSource{m} }

// Feed reads new events after cursor; see Manager.Feed.
func (w WebhookSource) Feed(cursor map[string]int64) []NewEvents {
	return w.m.feed(cursor, func(c *chat) int64 { return c.webhookDelivered })
}

// Tail reads a chat's events; see Manager.Tail.
func (w WebhookSource) Tail(id string, after int64) (Tail, error) { return w.m.Tail(id, after) }

// Delivered records that a chat's events up to seq reached the receiver (or were refused
// by it: either way, done), into the chat's record.
func (w WebhookSource) Delivered(id string, seq int64) {
	c, err := w.m.get(id)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.webhookDelivered {
		c.webhookDelivered = seq
		w.m.persist(c)
	}
}
