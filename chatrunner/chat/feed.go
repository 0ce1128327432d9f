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
		evs, _ := c.events.after(cursor[c.id])
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
