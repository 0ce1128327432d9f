package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// Get returns a chat.
func (m *Manager) Get(id string) (View, error) {
	c, err := m.get(id)
	if err != nil {
		return View{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view(), nil
}

// LiveChatOf returns the live chat of a bot's conversation on this runner, if any: what an
// escalation of that conversation would return instead of starting a chat. A new chat
// whose first record write is in flight is waited for (within ctx, else the error): a
// chat its store could not record is no live chat, not one about to be forgotten.
func (m *Manager) LiveChatOf(ctx context.Context, conversationID string) (View, bool, error) {
	m.mu.Lock()
	c, ok := m.byConversation[conversationID]
	m.mu.Unlock()
	if !ok {
		return View{}, false, nil
	}
	if err := waitCommitted(ctx, c); err != nil {
		var stored *StoreError
		if errors.As(err, &stored) { // its escalation was refused
			return View{}, false, nil
		}
		return View{}, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view(), true, nil
}

// SendMessage sends the user's message to the agent. A message with a client message id
// the chat has seen among its most recent ones was delivered already: it is not sent
// again (a bot's retry after a lost answer), and the retry succeeds.
//
// A chat's messages are sent one at a time (sendTurn): a bot's retry of a message still on
// its way waits for it and then finds its id, rather than send it a second time; and a
// message whose answer was lost is looked for in the transcript from a position past every
// message sent before it, so that another message with the same text, sent meanwhile,
// cannot pass for it (and leave this one undelivered while the bot is told it was).
func (m *Manager) SendMessage(ctx context.Context, id, text, messageType, clientMessageID string) error {
	c, err := m.get(id)
	if err != nil {
		return err
	}
	release, err := c.sendTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	if clientMessageID != "" {
		c.mu.Lock()
		seen := slices.Contains(c.clientMessages, clientMessageID)
		c.mu.Unlock()
		if seen {
			return nil
		}
	}
	for attempt := 1; ; attempt++ {
		from := 0
		err = m.call(ctx, id, "sending the message", func(sess *gms.Session, pos int) (*gms.Response, error) {
			from = pos
			return m.opts.GMS.Send(ctx, sess, text, messageType, pos)
		})
		if !answerLost(err) || ctx.Err() != nil {
			break
		}
		// Genesys may have taken the message and lost only the answer: the transcript tells.
		arrived, cerr := m.arrived(ctx, id, text, from)
		if cerr != nil {
			m.log.Info("Could not tell whether a message whose answer was lost reached Genesys", "chat", id, "error", cerr.Error())
			break
		}
		if arrived {
			err = nil
			break
		}
		if attempt >= maxSendAttempts {
			break
		}
	}
	if err == nil && clientMessageID != "" {
		m.rememberClientMessage(ctx, id, clientMessageID)
	}
	return err
}

// maxSendAttempts bounds how often a message whose answers were lost, and which the
// transcript does not show, is sent.
const maxSendAttempts = 3

// answerLost reports whether a failed call may have reached Genesys (gms.Error's
// MaybeDelivered): its outcome is unknown until the transcript is read.
func answerLost(err error) bool {
	var gerr *gms.Error
	return errors.As(err, &gerr) && gerr.MaybeDelivered()
}

// arrived reads a chat's transcript from position from (where it was when the message
// was sent) and reports whether the user's message with this text is there: the message
// reached the agent although its answer was lost. The answer's events apply as a poll's.
func (m *Manager) arrived(ctx context.Context, id, text string, from int) (bool, error) {
	c, err := m.get(id)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	sess := c.session
	c.mu.Unlock()
	if sess == nil {
		return false, errors.New("the chat has no Genesys session")
	}
	resp, err := m.opts.GMS.Refresh(ctx, sess, max(from, 1))
	if err != nil {
		return false, err
	}
	found := false
	for _, e := range resp.Messages {
		if e.From.Type == gms.ParticipantClient && e.Type == gms.EventMessage && e.Text == text && (e.Index == 0 || e.Index >= from) {
			found = true
		}
	}
	c.mu.Lock()
	if !c.over() {
		_ = m.handle(c, resp, nil)
		m.persist(c)
	}
	c.mu.Unlock()
	return found, nil
}

// rememberClientMessage adds a delivered message's client id to its chat's window of
// recent ids, and to its record, which is written before the bot hears the message was
// delivered: after a crash, the runner that takes the chat over knows the id, so the
// bot's retry there sends nothing twice. A store that cannot write now does not undo the
// delivery: the id reaches the record with the store's next write (its writer retries).
func (m *Manager) rememberClientMessage(ctx context.Context, id, clientMessageID string) {
	c, err := m.get(id)
	if err != nil {
		return
	}
	c.mu.Lock()
	if len(c.clientMessages) >= chatstore.MaxClientMessages {
		c.clientMessages = slices.Delete(slices.Clone(c.clientMessages), 0, len(c.clientMessages)-chatstore.MaxClientMessages+1)
	}
	c.clientMessages = append(c.clientMessages, clientMessageID)
	m.persist(c)
	where, over := c.store, c.over()
	c.mu.Unlock()
	st := m.opts.Store
	if st == nil || where.shard < 0 || over {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	if err := st.Sync(ctx, where.ordinal, where.shard); err != nil {
		m.log.Info("Could not record a client message id yet: the store retries", "chat", id, "error", err.Error())
	}
}

// Typing tells the agent that the user started or stopped typing.
func (m *Manager) Typing(ctx context.Context, id string, typing bool) error {
	return m.call(ctx, id, "sending typing", func(sess *gms.Session, _ int) (*gms.Response, error) {
		if typing {
			return m.opts.GMS.StartTyping(ctx, sess, "")
		}
		return m.opts.GMS.StopTyping(ctx, sess, "")
	})
}

// Present forwards rich content to the agent as a pushed URL, when the gateway supports
// present content. Genesys' pushUrl carries the URL only; the title stays with the bot.
func (m *Manager) Present(ctx context.Context, id, url string) error {
	if !m.Settings().SupportPresentContent {
		if _, err := m.get(id); err != nil {
			return err
		}
		return ErrPresentDisabled
	}
	return m.call(ctx, id, "pushing the URL", func(sess *gms.Session, _ int) (*gms.Response, error) {
		return m.opts.GMS.PushURL(ctx, sess, url)
	})
}

// call runs one user-side Genesys call on a chat that has a session and is not over. A
// response's events and end of chat apply as a poll's would; a failed call is returned
// to the caller, and ends the chat only when Genesys says it is over. A call Genesys
// refused (statusCode 2) is a *RefusedError even when it ended the chat: the bot must not
// take a refused message for a delivered one.
func (m *Manager) call(ctx context.Context, id, what string, do func(*gms.Session, int) (*gms.Response, error)) error {
	c, err := m.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	switch c.state {
	case chatv1alpha1.ChatWaitingForAgent, chatv1alpha1.ChatConnected:
	case chatv1alpha1.ChatRequesting:
		c.mu.Unlock()
		return &StateError{State: c.state, Detail: "the chat is not established on Genesys yet; retry shortly"}
	default:
		c.mu.Unlock()
		return &StateError{State: c.state, Detail: "the chat is over"}
	}
	sess, pos := c.session, c.transcript.Position()
	c.mu.Unlock()

	resp, err := do(sess, pos)
	if ctx.Err() == nil { // a call the bot gave up says nothing about Genesys
		m.observeCall(err, sessionCall)
	}
	c.mu.Lock()
	if c.over() { // closed or handed over meanwhile: the call's own outcome is all there is to say
		c.mu.Unlock()
		if gerr := refusal(err); gerr != nil {
			return &RefusedError{What: what, Ended: true, Err: gerr}
		}
		return err
	}
	herr := m.handle(c, resp, err)
	if cause := mayHaveEnded(herr); cause != nil {
		c.mu.Unlock()
		return &RefusedError{What: what, Ended: !m.confirmAlive(c, cause), Err: cause}
	}
	defer c.mu.Unlock()
	m.persist(c)
	if gerr := refusal(err); gerr != nil { // handle ended the chat (chatEnded)
		return &RefusedError{What: what, Ended: true, Err: gerr}
	}
	if herr != nil {
		c.lastError = herr.Error()
		return fmt.Errorf("%s to Genesys: %w", what, herr)
	}
	return nil
}

// Close ends a chat for the user: state Ended (UserClosed) at once, Disconnect on Genesys
// in the background. Closing an ended chat returns it unchanged.
func (m *Manager) Close(_ context.Context, id string) (View, error) {
	c, err := m.get(id)
	if err != nil {
		return View{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if terminal(c.state) {
		return c.view(), nil
	}
	m.finish(c, chatv1alpha1.ChatEnded, chatv1alpha1.EndUserClosed, "")
	if sess := c.session; sess != nil { // a chat still requesting is disconnected when its request returns
		go m.disconnect(c.id, sess)
	}
	return c.view(), nil
}

// Events returns a chat's events with seq > after, waiting up to wait for one when there
// is none yet (a long poll). An ended chat with nothing new answers at once.
func (m *Manager) Events(ctx context.Context, id string, after int64, wait time.Duration) ([]Event, error) {
	c, err := m.get(id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	evs, grew := c.events.after(after)
	over := terminal(c.state)
	c.mu.Unlock()
	if len(evs) > 0 || over || !waitFor(ctx, m.clock, grew, c.gone, wait) {
		return evs, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	evs, _ = c.events.after(after)
	return evs, nil
}

// sendTurn waits until no other user message of the chat is being sent, or until ctx ends
// (the bot gave up: nothing was sent), and returns the release of the turn. Waiters are
// not queued in order: two messages sent at once have no order between them anyway.
func (c *chat) sendTurn(ctx context.Context) (release func(), err error) {
	c.mu.Lock()
	if c.sending == nil {
		c.sending = make(chan struct{}, 1)
	}
	turn := c.sending
	c.mu.Unlock()
	select {
	case turn <- struct{}{}:
		return func() { <-turn }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the chat's previous message to be sent: %w", context.Cause(ctx))
	}
}
