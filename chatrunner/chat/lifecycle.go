package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Genesys error codes the engine reads.
const (
	// codeLoggedOut is Chat Server's "user was logged out" after an idle timeout.
	codeLoggedOut = 8209
)

// capacityRetryAfter is the Retry-After of a full runner whose agents are all available.
const capacityRetryAfter = 10 * time.Second

// commitTimeout bounds the wait for a new chat's record to be written: beyond it the
// escalation is refused (503) rather than left hanging while the API server is away.
const commitTimeout = 5 * time.Second

// Escalate starts a chat for a bot's conversation. While a chat of the same conversation
// is live it returns that chat and false; otherwise the new chat and true. The chat is
// requested on Genesys in the background: it starts in state Requesting. Before Run has
// started it waits for it, or for ctx.
func (m *Manager) Escalate(ctx context.Context, e Escalation) (View, bool, error) {
	select {
	case <-m.running:
	case <-ctx.Done():
		return View{}, false, fmt.Errorf("waiting for the chat engine to run: %w", ctx.Err())
	}
	s := m.Settings()
	if err := validate(s, e); err != nil {
		return View{}, false, err
	}
	if m.draining.Load() {
		return View{}, false, ErrDraining
	}

	now := m.clock.Now()
	m.mu.Lock()
	if c, ok := m.byConversation[e.ConversationID]; ok {
		m.mu.Unlock()
		if err := waitCommitted(ctx, c); err != nil {
			return View{}, false, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.view(), false, nil
	}
	if lag, behind := m.lag.behind(now, s.PollInterval); behind {
		// Behind its polls (short of CPU): a new chat would make every chat later. A live
		// chat of the conversation is still answered (above).
		capacity := m.agents.available() * s.MaxChatsPerAgent
		m.admit.shed(now)
		m.mu.Unlock()
		return View{}, false, &CapacityError{Capacity: capacity, RetryAfter: shedRetryAfter, Behind: lag}
	}
	if !m.admit.allow(now) {
		capacity := m.agents.available() * s.MaxChatsPerAgent
		m.mu.Unlock()
		return View{}, false, &CapacityError{Capacity: capacity, RetryAfter: pacingRetryAfter, Pacing: true}
	}
	m.agents.refresh(now, s.AvailabilityRefresh)
	slot, probe := m.agents.assign(s.MaxChatsPerAgent), false
	if slot < 0 && m.agents.available() == 0 {
		slot = m.agents.assignProbe(s.MaxChatsPerAgent)
		probe = slot >= 0
	}
	if slot < 0 {
		// Also with every agent out of service: the probe in flight may bring them back
		// at any moment.
		err := &CapacityError{Capacity: m.agents.available() * s.MaxChatsPerAgent, RetryAfter: capacityRetryAfter}
		m.mu.Unlock()
		return View{}, false, err
	}
	where, err := m.place()
	if err != nil {
		m.agents.release(slot)
		if probe {
			m.agents.probing = false
		}
		m.mu.Unlock()
		return View{}, false, err
	}
	c := &chat{
		id:          m.newID(),
		escalation:  e,
		committed:   make(chan struct{}),
		store:       where,
		gone:        make(chan struct{}),
		slot:        slot,
		probe:       probe,
		state:       chatv1alpha1.ChatRequesting,
		requestTime: now,
		transcript:  gms.NewTranscript(),
		events:      newEventLog(),
		agents:      map[int]Agent{},
	}
	m.chats[c.id] = c
	m.byConversation[e.ConversationID] = c
	c.elem = m.active.PushBack(c)
	m.counts.add(chatv1alpha1.ChatRequesting, 1)
	m.mu.Unlock()

	c.mu.Lock()
	m.persist(c)
	c.mu.Unlock()
	err = m.commit(ctx, c)
	c.commitErr = err
	close(c.committed)
	if err != nil {
		return View{}, false, err
	}
	c.mu.Lock()
	m.observe(c, "")
	v := c.view()
	c.mu.Unlock()
	m.notify()
	go m.request(c)
	return v, true, nil
}

// waitCommitted waits until a chat's first record write is decided (at once for a chat
// not being created), and returns its failure: the duplicate escalation of a chat its
// store could not record is refused as the first one was, not answered with a chat about
// to be forgotten.
func waitCommitted(ctx context.Context, c *chat) error {
	if c.committed == nil {
		return nil
	}
	select {
	case <-c.committed:
		return c.commitErr
	case <-ctx.Done():
		return fmt.Errorf("waiting for the conversation's chat to be recorded: %w", ctx.Err())
	}
}

// place picks the store shard of a new chat of this runner; called with m.mu held. A full
// store is a full runner; a store this runner does not own (yet, or any more) refuses
// the escalation for another runner to take.
func (m *Manager) place() (placement, error) {
	st := m.opts.Store
	if st == nil {
		return noStore, nil
	}
	shard, err := st.Place(m.opts.Ordinal)
	switch {
	case errors.Is(err, ErrStoreFull):
		return noStore, &CapacityError{Capacity: m.agents.available() * m.Settings().MaxChatsPerAgent, RetryAfter: capacityRetryAfter}
	case err != nil:
		return noStore, &StoreError{Err: err}
	}
	return placement{ordinal: m.opts.Ordinal, shard: shard}, nil
}

// commit makes a new chat durable before the bot hears of it: it waits for the store's
// next write of the chat's shard (shared with every chat created meanwhile). When the
// store cannot write, the chat is forgotten before anything was asked of Genesys, and
// the escalation is refused for the bot to retry.
func (m *Manager) commit(ctx context.Context, c *chat) error {
	st := m.opts.Store
	if st == nil || c.store.shard < 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	err := st.Sync(ctx, c.store.ordinal, c.store.shard)
	if err == nil {
		return nil
	}
	m.mu.Lock()
	delete(m.chats, c.id)
	if m.byConversation[c.escalation.ConversationID] == c {
		delete(m.byConversation, c.escalation.ConversationID)
	}
	m.active.Remove(c.elem)
	m.counts.add(chatv1alpha1.ChatRequesting, -1)
	m.agents.release(c.slot)
	if c.probe {
		m.agents.probing = false
	}
	m.mu.Unlock()
	c.mu.Lock()
	c.away = true
	m.unpersist(c)
	c.mu.Unlock()
	return &StoreError{Err: err}
}

// syncSoon asks the store to write a chat's shard now rather than at its next coalesced
// write: the chat got what resuming it needs most (its Genesys session).
func (m *Manager) syncSoon(c *chat) {
	if st := m.opts.Store; st != nil && c.store.shard >= 0 {
		go func() {
			if err := st.Sync(m.base, c.store.ordinal, c.store.shard); err != nil && m.base.Err() == nil {
				m.log.Info("Could not record chat's session yet: the store retries", "chat", c.id, "error", err.Error())
			}
		}()
	}
}

// validate checks an escalation against the gateway.
func validate(s *Settings, e Escalation) error {
	switch {
	case e.ConversationID == "":
		return &InvalidError{Field: "conversationId", Detail: "is required"}
	case e.Domain != s.Domain:
		return &InvalidError{Field: "domain", Detail: "this gateway serves domain " + strconv.Quote(s.Domain) + ", not " + strconv.Quote(e.Domain)}
	case s.Queue != "" && e.Queue != s.Queue:
		return &InvalidError{Field: "queue", Detail: "this gateway serves escalation queue " + strconv.Quote(s.Queue) + ", not " + strconv.Quote(e.Queue)}
	case nickname(e.User) == "":
		return &InvalidError{Field: "user", Detail: "give user.name, or user.firstName and user.lastName"}
	}
	return nil
}

// nickname is the name the agent sees.
func nickname(u User) string {
	if n := strings.TrimSpace(u.Name); n != "" {
		return n
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// chatRequest is the Request Chat of an escalation: the user's names, the subject, the
// attributes as userData, plus TimeZone and Locale when known.
func chatRequest(e Escalation) gms.ChatRequest {
	data := make(map[string]string, len(e.Attributes)+2)
	for k, v := range e.Attributes {
		data[k] = v
	}
	if tz := e.User.TimeZoneOffsetMinutes; tz != nil {
		data[gms.TimeZoneKey] = strconv.Itoa(*tz)
	}
	if e.Locale != "" {
		data["Locale"] = e.Locale
	}
	return gms.ChatRequest{
		Nickname:     nickname(e.User),
		FirstName:    e.User.FirstName,
		LastName:     e.User.LastName,
		Subject:      e.Subject,
		EmailAddress: e.User.Email,
		UserData:     data,
	}
}

// request asks Genesys for the chat, then puts it on the poll schedule.
func (m *Manager) request(c *chat) {
	sess, resp, err := m.opts.GMS.RequestChat(m.base, chatRequest(c.escalation))
	if m.base.Err() == nil {
		m.observeCall(err, requestCall)
	}
	if c.probe {
		m.mu.Lock()
		m.agents.probing = false
		m.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.away {
		return
	}
	if sess != nil {
		c.session = sess
	}
	if terminal(c.state) { // closed by the user meanwhile
		if sess != nil {
			go m.disconnect(c.id, sess)
		}
		return
	}
	if err != nil {
		if m.base.Err() != nil {
			return
		}
		m.mu.Lock()
		m.agents.markUnavailable(c.slot)
		m.mu.Unlock()
		m.fail(c, err)
		return
	}
	c.waitingTime = m.clock.Now().Truncate(time.Millisecond) // as the record keeps it
	m.setState(c, chatv1alpha1.ChatWaitingForAgent)
	m.notice(c, CannedWaitingForAgent, c.waitingTime)
	_ = m.handle(c, resp, nil) // a nil error: handle reports no failure for a first answer
	if !terminal(c.state) {
		m.persist(c)
		m.syncSoon(c)
		m.sched.add(c)
	}
}

// firePoll starts a chat's poll, on the scheduler's pollers, unless its previous one is
// still in flight: then the turn is deferred, and runs as soon as that poll ends (poll).
// Only the latest deferred turn waits, so a slow Genesys never builds a backlog, and a
// runner short of CPU polls each chat again as soon as it can rather than a whole
// interval later. The pollers run it at once, or queue it while maxPollers are busy; only
// a stopping engine drops it.
func (m *Manager) firePoll(c *chat, due time.Time) {
	if !c.polling.CompareAndSwap(false, true) {
		c.deferred.Store(due.UnixNano())
		m.deferredTurn()
		return
	}
	c.deferred.Store(0) // a stale turn, deferred while the last poll was ending, is this one
	if !m.sched.pollers.submit(pollJob{m: m, c: c, due: due}) {
		c.polling.Store(false)
		m.deferredTurn()
	}
}

// deferredTurn reports a chat's turn that could not start when due.
func (m *Manager) deferredTurn() {
	if m.opts.PollDeferred != nil {
		m.opts.PollDeferred()
	}
}

// poll polls a chat, then again for each turn deferred meanwhile, on the same poller.
func (m *Manager) poll(c *chat, due time.Time) {
	for {
		m.pollOnce(c, due)
		d := c.deferred.Swap(0)
		if d == 0 {
			c.polling.Store(false)
			// A turn deferred between the Swap and the Store is not lost: take it back,
			// unless a new poll took the chat first.
			if d = c.deferred.Swap(0); d == 0 || !c.polling.CompareAndSwap(false, true) {
				return
			}
		}
		if m.base.Err() != nil {
			c.polling.Store(false)
			return
		}
		due = time.Unix(0, d)
	}
}

// pollOnce refreshes a chat's transcript and acts on it; it ends a chat no agent joined
// in time.
func (m *Manager) pollOnce(c *chat, due time.Time) {
	// The scheduler fires polls due within batchWindow together: up to that early.
	late := max(m.clock.Since(due), 0)
	s := m.Settings()
	m.lag.observe(m.clock.Now(), late, s.PollInterval)
	if m.opts.PollLateness != nil {
		m.opts.PollLateness(late)
	}
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	if c.state == chatv1alpha1.ChatWaitingForAgent && m.clock.Since(c.requestTime) >= s.EscalationTimeout {
		sess := c.session
		m.finish(c, chatv1alpha1.ChatEnded, chatv1alpha1.EndEscalationTimeout, "")
		c.mu.Unlock()
		m.disconnect(c.id, sess)
		return
	}
	sess, pos := c.session, c.transcript.Position()
	c.mu.Unlock()

	resp, err := m.opts.GMS.Refresh(m.base, sess, pos)
	if m.base.Err() != nil {
		return // shutting down: the chat is not at fault
	}
	m.observeCall(err, pollCall)
	c.mu.Lock()
	if c.over() {
		c.mu.Unlock()
		return
	}
	err = m.handle(c, resp, err)
	if err == nil {
		m.checkSeam(c)
	}
	if cause := mayHaveEnded(err); cause != nil {
		c.mu.Unlock()
		m.confirmAlive(c, cause)
		return
	}
	if err != nil {
		m.fail(c, err)
	}
	m.persist(c)
	c.mu.Unlock()
}

// handle applies a response's new events and its end of chat. It returns the call's error
// when the chat goes on (for the caller to report or fail the chat), nil otherwise. A
// statusCode 2 without chatEnded is returned too: the chat may have ended, and the caller
// confirms with a Refresh (confirmAlive) instead of ending it on a guess.
func (m *Manager) handle(c *chat, resp *gms.Response, err error) error {
	for _, e := range c.transcript.Accept(resp) {
		m.apply(c, e)
	}
	gerr := refusal(err)
	switch {
	case terminal(c.state):
		return nil
	case gerr != nil && gerr.ChatEnded:
		// Genesys' own verdict on the chat; a proxy's 4xx is a failed call instead.
		m.endByGenesys(c, gerr)
		return nil
	case err != nil:
		return err
	case resp != nil && resp.ChatEnded:
		m.endByGenesys(c, nil)
	}
	return nil
}

// endByGenesys ends a chat Genesys ended: by the agent, by an idle timeout, or by an
// error (gerr).
func (m *Manager) endByGenesys(c *chat, gerr *gms.Error) {
	s := m.Settings()
	msg := ""
	if gerr != nil {
		msg = gerr.Error()
	}
	switch {
	case c.idleClosed || gerr != nil && hasCode(gerr, codeLoggedOut):
		m.finish(c, chatv1alpha1.ChatEnded, chatv1alpha1.EndIdleTimeout, msg)
	case gerr != nil:
		m.finish(c, transferOr(s, chatv1alpha1.ChatFailed), chatv1alpha1.EndGenesysError, gerr.Error())
	default:
		m.finish(c, transferOr(s, chatv1alpha1.ChatEnded), chatv1alpha1.EndAgentClosed, "")
	}
}

// fail ends a chat whose Genesys calls failed after every retry, and disconnects it on a
// best-effort basis.
func (m *Manager) fail(c *chat, err error) {
	m.log.Info("Failed chat after retries", "chat", c.id, "error", err.Error())
	m.finish(c, transferOr(m.Settings(), chatv1alpha1.ChatFailed), chatv1alpha1.EndGenesysError, err.Error())
	if sess := c.session; sess != nil {
		go m.disconnect(c.id, sess)
	}
}

// transferOr is Transferred when the gateway hands chats back to the bot, else state.
func transferOr(s *Settings, state chatv1alpha1.ChatState) chatv1alpha1.ChatState {
	if s.TransferBackOnAgentClose {
		return chatv1alpha1.ChatTransferred
	}
	return state
}

func hasCode(e *gms.Error, code int) bool {
	for _, x := range e.Errors {
		if x.Code == code {
			return true
		}
	}
	return false
}

// disconnect ends a chat on Genesys, with retries; a failure is logged, not reported to
// the chat (it has ended for the user already).
func (m *Manager) disconnect(id string, sess *gms.Session) {
	if sess == nil {
		return
	}
	_, err := m.opts.GMS.Disconnect(m.base, sess)
	if m.base.Err() != nil {
		return
	}
	m.observeCall(err, sessionCall)
	if err != nil {
		m.log.Info("Failed to disconnect chat on Genesys", "chat", id, "error", err.Error())
	}
}

// setState moves a live chat to another live state; called with c.mu held.
func (m *Manager) setState(c *chat, to chatv1alpha1.ChatState) {
	from := c.state
	c.state = to
	m.mu.Lock()
	m.counts.move(from, to)
	m.mu.Unlock()
	m.observe(c, from)
	m.notify()
}

// finish ends a chat; called with c.mu held.
func (m *Manager) finish(c *chat, to chatv1alpha1.ChatState, reason chatv1alpha1.ChatEndReason, errMsg string) {
	from := c.state
	c.state, c.endReason, c.endTime = to, reason, m.clock.Now()
	if errMsg != "" {
		c.lastError = errMsg
	}
	m.sched.remove(c)
	m.unpersist(c)
	m.mu.Lock()
	m.counts.move(from, to)
	m.agents.release(c.slot)
	if m.byConversation[c.escalation.ConversationID] == c {
		delete(m.byConversation, c.escalation.ConversationID)
	}
	m.active.Remove(c.elem)
	m.ended = append(m.ended, c)
	m.mu.Unlock()

	switch {
	case to == chatv1alpha1.ChatTransferred:
		m.notice(c, CannedConversationTransferred, c.endTime)
	case to == chatv1alpha1.ChatFailed:
		m.notice(c, CannedTechnicalError, c.endTime)
	case reason == chatv1alpha1.EndEscalationTimeout:
		m.notice(c, CannedNoAgentAvailable, c.endTime)
	case c.idleClosed && reason == chatv1alpha1.EndIdleTimeout:
		// The idleClose event told the user already; a second closing text would repeat it.
	case reason != chatv1alpha1.EndUserClosed:
		m.notice(c, CannedConversationClosed, c.endTime)
	}
	kind := map[chatv1alpha1.ChatState]string{
		chatv1alpha1.ChatEnded:       KindEnded,
		chatv1alpha1.ChatTransferred: KindTransferred,
		chatv1alpha1.ChatFailed:      KindFailed,
	}[to]
	c.events.append(Event{Kind: kind, Time: c.endTime, Reason: reason, Error: c.lastError})
	m.observe(c, from)
	m.notify()
}

// observe tells the observers of a chat's transition; called with c.mu held.
func (m *Manager) observe(c *chat, from chatv1alpha1.ChatState) {
	t := Transition{
		ChatID:         c.id,
		ConversationID: c.escalation.ConversationID,
		From:           from,
		To:             c.state,
		Agent:          c.agent.Name,
		RequestTime:    c.requestTime,
		ConnectTime:    c.connectTime,
		EndTime:        c.endTime,
	}
	if c.session != nil {
		t.GenesysChatID = c.session.ChatID
	}
	if terminal(c.state) {
		t.Reason, t.Error = c.endReason, c.lastError
	}
	for _, o := range m.opts.Observers {
		o.Transitioned(t)
	}
}

// notice appends a canned message to a chat's events at a time; called with c.mu held.
// The time is the time of what caused it (a Genesys event's), so that a chat resumed by
// another runner derives the same notice again.
func (m *Manager) notice(c *chat, key chatv1alpha1.CannedMessageKey, at time.Time) {
	s := m.Settings()
	c.events.append(Event{Kind: KindNotice, Time: at, Canned: key, Text: s.Canned(key, c.agent.Name)})
}
