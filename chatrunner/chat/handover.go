package chat

import (
	"errors"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// Errors of a hand-over.
var (
	// ErrHandedOver: the chat is carried by another runner now; ask again (the router
	// finds the new owner).
	ErrHandedOver = errors.New("the chat was handed over to another runner")
	// ErrDraining: the runner is stopping and takes no new escalation; another runner will.
	ErrDraining = errors.New("this runner is stopping and takes no new escalations")
)

// Stored is one chat record of a store, with the shard it came from.
type Stored struct {
	Shard  int
	Record chatstore.Record
}

// HandoverCounts are a runner's hand-over counters, for its status entry and metrics.
type HandoverCounts struct {
	// Resumed counts chats taken over from a store (Adopted among them: from another
	// ordinal's store); HandedOver counts chats given up to another owner.
	Resumed, Adopted, HandedOver int64
	// Seams counts resumed chats whose transcript gave fewer events than their previous
	// owner had derived: their seq could not continue seamlessly.
	Seams int64
}

// Resume takes over the chats of an ordinal's store: the manager's own after a restart, or
// another runner's. A chat with a Genesys session goes back on the poll schedule; its
// first poll reads the whole transcript again and derives every event again, with the
// same seq, so the bot's reading goes on without a gap. A chat still waiting for Genesys'
// answer to Request Chat cannot be resumed (whether Genesys created it is unknown): it
// fails, and the bot is told. It returns how many chats were resumed and failed.
func (m *Manager) Resume(ordinal int, stored []Stored) (resumed, failed int) {
	s := m.Settings()
	for _, st := range stored {
		r := st.Record
		m.mu.Lock()
		if _, ok := m.chats[r.ID]; ok {
			m.mu.Unlock()
			continue
		}
		slot := -1
		if ordinal == m.opts.Ordinal {
			slot = m.agents.assign(s.MaxChatsPerAgent)
		}
		c := &chat{
			id:               r.ID,
			escalation:       Escalation{ConversationID: r.ConversationID},
			store:            placement{ordinal: ordinal, shard: st.Shard},
			gone:             make(chan struct{}),
			slot:             slot,
			state:            r.State,
			agent:            Agent{Name: r.Agent, Email: r.AgentEmail},
			requestTime:      fromUnixMilli(r.RequestTime),
			waitingTime:      fromUnixMilli(r.WaitingTime),
			connectTime:      fromUnixMilli(r.ConnectTime),
			lastError:        r.LastError,
			transcript:       gms.NewTranscript(),
			events:           newEventLog(),
			agents:           map[int]Agent{},
			webhookDelivered: r.WebhookDelivered,
			clientMessages:   r.ClientMessages,
			replayTo:         r.NextSeq - 1,
		}
		if r.Session.ChatID != "" && r.Session.SecureKey != "" {
			c.session = gms.NewSession(r.Session.ChatID, r.Session.UserID, r.Session.SecureKey, r.Session.Alias)
		}
		if c.session == nil || (c.state != chatv1alpha1.ChatWaitingForAgent && c.state != chatv1alpha1.ChatConnected) {
			c.state = chatv1alpha1.ChatRequesting
		}
		m.chats[c.id] = c
		if _, live := m.byConversation[r.ConversationID]; !live {
			m.byConversation[r.ConversationID] = c
		}
		delete(m.handedOver, c.id)
		c.elem = m.active.PushBack(c)
		m.counts.add(c.state, 1)
		m.handover.Resumed++
		if ordinal != m.opts.Ordinal {
			m.handover.Adopted++
		}
		m.mu.Unlock()

		c.mu.Lock()
		if c.session == nil {
			m.finish(c, chatv1alpha1.ChatFailed, chatv1alpha1.EndGenesysError,
				"the runner carrying the chat stopped before Genesys answered its request; escalate the conversation again")
			c.mu.Unlock()
			failed++
			continue
		}
		// The first notice, as the previous owner derived it; the transcript gives the rest.
		m.notice(c, CannedWaitingForAgent, c.waitingTime)
		c.saved = c.mark()
		c.mu.Unlock()
		m.sched.add(c)
		resumed++
	}
	m.notify()
	return resumed, failed
}

// Release gives up the chats of an ordinal's store to another owner (a graceful stop, a
// hand-back): they leave the poll schedule, their final records are put into the store
// (the caller flushes it before releasing the Lease), and the API answers ErrHandedOver
// for them from now on. It returns how many chats it gave up.
func (m *Manager) Release(ordinal int) int {
	return m.leave(ordinal, true)
}

// Drop stops touching the chats of an ordinal's store at once, without writing anything:
// the runner lost its Lease (a partition, a renewal that failed), and another runner may
// own them already. It returns how many chats it dropped.
func (m *Manager) Drop(ordinal int) int {
	return m.leave(ordinal, false)
}

// leave removes the live chats of an ordinal's store from the manager, saving their final
// records first when save is set.
func (m *Manager) leave(ordinal int, save bool) int {
	now := m.clock.Now()
	m.mu.Lock()
	var out []*chat
	for e := m.active.Front(); e != nil; {
		next := e.Next()
		c := e.Value.(*chat)
		if c.store.shard >= 0 && c.store.ordinal == ordinal {
			out = append(out, c)
			m.active.Remove(e)
			delete(m.chats, c.id)
			if m.byConversation[c.escalation.ConversationID] == c {
				delete(m.byConversation, c.escalation.ConversationID)
			}
			m.handedOver[c.id] = now
		}
		e = next
	}
	m.mu.Unlock()
	for _, c := range out {
		m.sched.remove(c)
		c.mu.Lock()
		if save {
			m.persist(c)
		}
		c.away = true
		close(c.gone)
		m.mu.Lock()
		m.counts.add(c.state, -1)
		m.agents.release(c.slot)
		m.mu.Unlock()
		c.mu.Unlock()
	}
	m.mu.Lock()
	m.handover.HandedOver += int64(len(out))
	m.mu.Unlock()
	if len(out) > 0 {
		m.log.Info("Handed over chats", "store", ordinal, "chats", len(out), "saved", save)
	}
	m.notify()
	return len(out)
}

// Drain stops taking new escalations (ErrDraining): the runner is stopping.
func (m *Manager) Drain() { m.draining.Store(true) }

// Draining reports whether the runner stopped taking new escalations.
func (m *Manager) Draining() bool { return m.draining.Load() }

// Handover returns the hand-over counters.
func (m *Manager) Handover() HandoverCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.handover
}

// checkSeam compares, after a resumed chat's first poll, the events derived again with
// the number its previous owner had; called with c.mu held.
func (m *Manager) checkSeam(c *chat) {
	if c.replayTo <= 0 {
		return
	}
	if have := c.events.next() - 1; have < c.replayTo {
		m.log.Info("Resumed chat with fewer events than its previous owner had: the bot may see a gap", "chat", c.id, "events", have, "previously", c.replayTo)
		m.mu.Lock()
		m.handover.Seams++
		m.mu.Unlock()
	}
	c.replayTo = 0
}

// forgetHandedOver drops the ids of chats handed over longer ago than the retention;
// called with m.mu held.
func (m *Manager) forgetHandedOver(now time.Time) {
	for id, at := range m.handedOver {
		if now.Sub(at) > m.opts.Retention {
			delete(m.handedOver, id)
		}
	}
}
