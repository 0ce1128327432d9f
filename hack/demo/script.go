package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The scripted conversation.
const (
	conversationID = "demo-1"
	agentName      = "Alice"
	agentEmail     = "alice@acme.example"
	agentGreeting  = "Hello Jane, how can I help?"
	userReply      = "My last bill is twice the usual amount."
)

// conversation plays a bot, a user and an agent: the bot calls the escalation API of the
// runners with its Go client, the agent is played through the simulator's control API.
type conversation struct {
	out *printer
	cp  *controlPlane
	// entry is the escalation API the bot escalates to (runner 0); follow the one it sends
	// its next calls to: another runner when there are several, as the Service could pick
	// any, so that the call is forwarded to the chat's owner.
	entry, follow         *escalation.Client
	entryName, followName string
	sim                   *gmssim.ControlClient
	id, genesysID         string
	next                  int64 // the last event seq seen
}

// escalate sends the escalation and waits until the chat waits for an agent on Genesys.
func (c *conversation) escalate(ctx context.Context) error {
	created, isNew, err := c.entry.Escalate(ctx, escalation.Request{
		ConversationID: conversationID, Domain: domain, Queue: queue,
		User:    escalation.User{Name: "Jane Doe", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@example.com"},
		Subject: "Billing question", Attributes: map[string]string{"Plan": "Gold", "Channel": "web"},
	})
	if err != nil {
		return fmt.Errorf("escalating: %w", err)
	}
	if !isNew {
		return fmt.Errorf("escalating: 200 and chat %s, already live: want 201 and a new chat", created.ID)
	}
	c.id = created.ID
	c.out.printf("bot → %s: POST /v1/chats {conversationId: %s, domain: %s, queue: %s, user: Jane Doe}", c.entryName, conversationID, domain, queue)
	c.out.printf("      ← 201 Created: chat %s, state %s", created.ID, created.State)
	if c.follow != c.entry {
		c.out.printf("bot → %s (as the Service may pick any runner): GET /v1/chats/%s, forwarded to the chat's owner by its pod DNS name", c.followName, c.id)
	}
	ch, err := c.waitState(ctx, escalation.ChatWaitingForAgent)
	if err != nil {
		return err
	}
	c.genesysID = ch.GenesysChatID
	c.out.printf("      ← state %s, genesysChatId %s", ch.State, ch.GenesysChatID)
	sc, err := c.sim.Chat(ctx, c.genesysID)
	if err != nil {
		return fmt.Errorf("reading the chat on the simulator: %w", err)
	}
	c.out.printf("GMS simulator: chat %s requested by %q, subject %q, userData Plan=%s", sc.ID, sc.Nickname, sc.Subject, sc.UserData["Plan"])
	return c.showStatus(ctx, func(ch chatv1alpha1.ChatStatus) bool { return ch.State == chatv1alpha1.ChatWaitingForAgent }, 1)
}

// agentAnswers has the agent join and greet the user, and the bot receive both.
func (c *conversation) agentAnswers(ctx context.Context) error {
	alice := gmssim.Agent{Nickname: agentName, Email: agentEmail}
	if err := c.agent("join", map[string]string{"nickname": alice.Nickname, "email": alice.Email}, c.sim.Join(ctx, c.genesysID, alice)); err != nil {
		return err
	}
	if err := c.agent("message", map[string]string{"text": agentGreeting}, c.sim.Message(ctx, c.genesysID, agentGreeting)); err != nil {
		return err
	}
	if _, err := c.awaitEvent(ctx, func(e escalation.Event) bool { return e.Kind == escalation.EventMessage && e.Text == agentGreeting }); err != nil {
		return err
	}
	ch, err := c.waitState(ctx, escalation.ChatConnected)
	if err != nil {
		return err
	}
	c.out.printf("bot → GET /v1/chats/%s ← state %s, agent %s", c.id, ch.State, ch.Agent.Name)
	return nil
}

// userReplies sends the user's answer and shows it arrived on Genesys.
func (c *conversation) userReplies(ctx context.Context) error {
	if err := c.follow.SendMessage(ctx, c.id, escalation.MessageRequest{Text: userReply}); err != nil {
		return fmt.Errorf("sending the user's message: %w", err)
	}
	c.out.printf("bot → %s: POST /v1/chats/%s/messages {text: %q} ← 204", c.followName, c.id, userReply)
	return eventually(ctx, "the message in the simulator's transcript", func(ctx context.Context) error {
		sc, err := c.sim.Chat(ctx, c.genesysID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sc.Transcript, func(e gms.Event) bool {
			return e.From.Type == gms.ParticipantClient && e.Text == userReply
		})
		if i < 0 {
			return errors.New("not there yet")
		}
		e := sc.Transcript[i]
		c.out.printf("GMS simulator transcript #%d: %s from %s (%s): %q", e.Index, e.Type, e.From.Nickname, e.From.Type, e.Text)
		return nil
	})
}

// agentCloses has the agent close the chat, and waits until it ended everywhere.
func (c *conversation) agentCloses(ctx context.Context) error {
	if err := c.agent("close", nil, c.sim.Close(ctx, c.genesysID)); err != nil {
		return err
	}
	if _, err := c.awaitEvent(ctx, func(e escalation.Event) bool { return e.Kind == escalation.EventEnded }); err != nil {
		return err
	}
	ch, err := c.waitState(ctx, escalation.ChatEnded)
	if err != nil {
		return err
	}
	if ch.EndReason != escalation.EndAgentClosed {
		return fmt.Errorf("the chat ended with reason %q, want %s", ch.EndReason, escalation.EndAgentClosed)
	}
	c.out.printf("bot → GET /v1/chats/%s ← state %s, endReason %s", c.id, ch.State, ch.EndReason)
	return nil
}

// clusterShows waits until the gateway's status and events tell the whole chat, and
// shows them.
func (c *conversation) clusterShows(ctx context.Context) error {
	if err := c.showStatus(ctx, func(ch chatv1alpha1.ChatStatus) bool {
		return ch.State == chatv1alpha1.ChatEnded && ch.EndReason == chatv1alpha1.EndAgentClosed
	}, 0); err != nil {
		return err
	}
	want := []string{"ChatRequested", "AgentJoined", "ChatEnded"}
	return eventually(ctx, "the chat's events "+strings.Join(want, ", "), func(ctx context.Context) error {
		gw := &chatv1alpha1.GenesysGateway{}
		if err := c.cp.client.Get(ctx, gatewayKey, gw); err != nil {
			return err
		}
		evs, err := c.cp.gatewayEvents(ctx, gw)
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range evs {
			if strings.Contains(e.Note, c.id) {
				seen = append(seen, e.Reason)
			}
		}
		for _, r := range want {
			if !slices.Contains(seen, r) {
				return fmt.Errorf("no %s event yet (seen: %v)", r, seen)
			}
		}
		c.out.block(eventsTable(evs))
		return nil
	})
}

// agent reports an agent action played on the simulator's control API (err: how the call
// went), as the HTTP call it was.
func (c *conversation) agent(action string, body map[string]string, err error) error {
	if err != nil {
		return fmt.Errorf("agent action %s: %w", action, err)
	}
	c.out.printf("agent (simulator control API): POST /sim/chats/%s/%s%s ← 200", c.genesysID, action, compact(body))
	return nil
}

// eventsWait is the wait of the bot's long polls.
const eventsWait = 10 * time.Second

// awaitEvent long-polls the chat's events, printing each, until one matches.
func (c *conversation) awaitEvent(ctx context.Context, match func(escalation.Event) bool) (escalation.Event, error) {
	for {
		page, err := c.follow.Events(ctx, c.id, c.next, eventsWait)
		if err != nil {
			return escalation.Event{}, fmt.Errorf("long-polling the chat's events: %w", err)
		}
		for _, e := range page.Events {
			c.out.printf("bot ← GET /v1/chats/%s/events?after=%d&wait=%s: %s", c.id, c.next, eventsWait, describeEvent(e))
			c.next = e.Seq
			if match(e) {
				return e, nil
			}
		}
	}
}

// waitState polls the chat until it is in state.
func (c *conversation) waitState(ctx context.Context, state escalation.ChatState) (escalation.Chat, error) {
	var ch escalation.Chat
	err := eventually(ctx, "chat "+c.id+" in state "+string(state), func(ctx context.Context) error {
		var err error
		if ch, err = c.follow.Chat(ctx, c.id); err != nil {
			return err
		}
		if ch.State != state {
			return fmt.Errorf("state %s (lastError %q)", ch.State, ch.LastError)
		}
		return nil
	})
	return ch, err
}

// showStatus waits until the gateway's status has the chat as match says and activeChats
// active chats, then prints kubectl get gg and the chat entries.
func (c *conversation) showStatus(ctx context.Context, match func(chatv1alpha1.ChatStatus) bool, active int32) error {
	return eventually(ctx, "the chat in the gateway's status", func(ctx context.Context) error {
		gw := &chatv1alpha1.GenesysGateway{}
		if err := c.cp.client.Get(ctx, gatewayKey, gw); err != nil {
			return err
		}
		found := false
		for _, r := range gw.Status.Runners {
			for _, ch := range r.Chats {
				found = found || (ch.ID == c.id && match(ch))
			}
		}
		if !found || gw.Status.ActiveChats != active {
			return fmt.Errorf("not reported yet (activeChats %d)", gw.Status.ActiveChats)
		}
		tbl, err := c.cp.getGatewaysTable(ctx, tenantNamespace)
		if err != nil {
			return err
		}
		c.out.block(tbl)
		c.out.block(chatsTable(gw))
		return nil
	})
}

// describeEvent renders a chat event on one line.
func describeEvent(e escalation.Event) string {
	s := fmt.Sprintf("#%d %s", e.Seq, e.Kind)
	for _, kv := range [][2]string{{"agent", e.Agent}, {"canned", e.Canned}, {"text", e.Text}, {"reason", string(e.Reason)}, {"error", e.Error}} {
		if kv[1] != "" {
			s += fmt.Sprintf(" %s=%q", kv[0], kv[1])
		}
	}
	return s
}

// compact renders a small body for the output.
func compact(body map[string]string) string {
	if len(body) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(body)) {
		parts = append(parts, fmt.Sprintf("%s: %q", k, body[k]))
	}
	return " {" + strings.Join(parts, ", ") + "}"
}

// eventually calls fn every 200 ms until it succeeds or ctx ends.
func eventually(ctx context.Context, what string, fn func(context.Context) error) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
