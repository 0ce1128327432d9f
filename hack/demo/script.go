package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The scripted conversation.
const (
	conversationID = "demo-1"
	agentName      = "Alice"
	agentGreeting  = "Hello Jane, how can I help?"
	userReply      = "My last bill is twice the usual amount."
)

// chatView is a chat as the escalation API shows it.
type chatView struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversationId"`
	GenesysChatID  string `json:"genesysChatId"`
	State          string `json:"state"`
	Agent          *struct {
		Name string `json:"name"`
	} `json:"agent"`
	EndReason string `json:"endReason"`
	LastError string `json:"lastError"`
}

// chatEvent is one event of a chat's event stream.
type chatEvent struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Agent  string `json:"agent"`
	Text   string `json:"text"`
	Canned string `json:"canned"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// conversation plays a bot, a user and an agent: the bot calls the escalation API of the
// runners, the agent is played through the simulator's control API.
type conversation struct {
	out *printer
	cp  *controlPlane
	bot *apiClient
	sim *apiClient
	// entry is the escalation API the bot escalates to (runner 0); follow the one it sends
	// its next calls to: another runner when there are several, as the Service could pick
	// any, so that the call is forwarded to the chat's owner.
	entry, follow         string
	entryName, followName string
	simURL                string
	id, genesysID         string
	next                  int64 // the last event seq seen
}

// escalate sends the escalation and waits until the chat waits for an agent on Genesys.
func (c *conversation) escalate(ctx context.Context) error {
	body := map[string]any{
		"conversationId": conversationID, "domain": domain, "queue": queue,
		"user":    map[string]any{"name": "Jane Doe", "firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"},
		"subject": "Billing question", "attributes": map[string]string{"Plan": "Gold", "Channel": "web"},
	}
	var created chatView
	if err := c.bot.do(ctx, http.MethodPost, c.entry+"/v1/chats", body, http.StatusCreated, &created); err != nil {
		return fmt.Errorf("escalating: %w", err)
	}
	c.id = created.ID
	c.out.printf("bot → %s: POST /v1/chats {conversationId: %s, domain: %s, queue: %s, user: Jane Doe}", c.entryName, conversationID, domain, queue)
	c.out.printf("      ← 201 Created: chat %s, state %s", created.ID, created.State)
	if c.follow != c.entry {
		c.out.printf("bot → %s (as the Service may pick any runner): GET /v1/chats/%s, forwarded to the chat's owner by its pod DNS name", c.followName, c.id)
	}
	ch, err := c.waitState(ctx, string(chatv1alpha1.ChatWaitingForAgent))
	if err != nil {
		return err
	}
	c.genesysID = ch.GenesysChatID
	c.out.printf("      ← state %s, genesysChatId %s", ch.State, ch.GenesysChatID)
	var sc gmssim.Chat
	if err := c.sim.do(ctx, http.MethodGet, c.simURL+"/sim/chats/"+c.genesysID, nil, http.StatusOK, &sc); err != nil {
		return fmt.Errorf("reading the chat on the simulator: %w", err)
	}
	c.out.printf("GMS simulator: chat %s requested by %q, subject %q, userData Plan=%s", sc.ID, sc.Nickname, sc.Subject, sc.UserData["Plan"])
	return c.showStatus(ctx, func(ch chatv1alpha1.ChatStatus) bool { return ch.State == chatv1alpha1.ChatWaitingForAgent }, 1)
}

// agentAnswers has the agent join and greet the user, and the bot receive both.
func (c *conversation) agentAnswers(ctx context.Context) error {
	if err := c.agent(ctx, "join", map[string]string{"nickname": agentName, "email": "alice@acme.example"}); err != nil {
		return err
	}
	if err := c.agent(ctx, "message", map[string]string{"text": agentGreeting}); err != nil {
		return err
	}
	if _, err := c.awaitEvent(ctx, func(e chatEvent) bool { return e.Kind == "message" && e.Text == agentGreeting }); err != nil {
		return err
	}
	ch, err := c.waitState(ctx, string(chatv1alpha1.ChatConnected))
	if err != nil {
		return err
	}
	c.out.printf("bot → GET /v1/chats/%s ← state %s, agent %s", c.id, ch.State, ch.Agent.Name)
	return nil
}

// userReplies sends the user's answer and shows it arrived on Genesys.
func (c *conversation) userReplies(ctx context.Context) error {
	if err := c.bot.do(ctx, http.MethodPost, c.follow+"/v1/chats/"+c.id+"/messages", map[string]string{"text": userReply}, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("sending the user's message: %w", err)
	}
	c.out.printf("bot → %s: POST /v1/chats/%s/messages {text: %q} ← 204", c.followName, c.id, userReply)
	return eventually(ctx, "the message in the simulator's transcript", func(ctx context.Context) error {
		var sc gmssim.Chat
		if err := c.sim.do(ctx, http.MethodGet, c.simURL+"/sim/chats/"+c.genesysID, nil, http.StatusOK, &sc); err != nil {
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
	if err := c.agent(ctx, "close", nil); err != nil {
		return err
	}
	if _, err := c.awaitEvent(ctx, func(e chatEvent) bool { return e.Kind == "ended" }); err != nil {
		return err
	}
	ch, err := c.waitState(ctx, string(chatv1alpha1.ChatEnded))
	if err != nil {
		return err
	}
	if ch.EndReason != string(chatv1alpha1.EndAgentClosed) {
		return fmt.Errorf("the chat ended with reason %q, want %s", ch.EndReason, chatv1alpha1.EndAgentClosed)
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

// agent plays an agent action on the simulator's control API.
func (c *conversation) agent(ctx context.Context, action string, body map[string]string) error {
	var b any
	if body != nil {
		b = body
	}
	if err := c.sim.do(ctx, http.MethodPost, c.simURL+"/sim/chats/"+c.genesysID+"/"+action, b, http.StatusOK, nil); err != nil {
		return fmt.Errorf("agent action %s: %w", action, err)
	}
	c.out.printf("agent (simulator control API): POST /sim/chats/%s/%s%s ← 200", c.genesysID, action, compact(body))
	return nil
}

// awaitEvent long-polls the chat's events, printing each, until one matches.
func (c *conversation) awaitEvent(ctx context.Context, match func(chatEvent) bool) (chatEvent, error) {
	for {
		var page struct {
			Events []chatEvent `json:"events"`
			Next   int64       `json:"next"`
		}
		url := fmt.Sprintf("%s/v1/chats/%s/events?after=%d&wait=10s", c.follow, c.id, c.next)
		if err := c.bot.do(ctx, http.MethodGet, url, nil, http.StatusOK, &page); err != nil {
			return chatEvent{}, fmt.Errorf("long-polling the chat's events: %w", err)
		}
		for _, e := range page.Events {
			c.out.printf("bot ← GET /v1/chats/%s/events?after=%d&wait=10s: %s", c.id, c.next, describeEvent(e))
			c.next = e.Seq
			if match(e) {
				return e, nil
			}
		}
	}
}

// waitState polls the chat until it is in state.
func (c *conversation) waitState(ctx context.Context, state string) (chatView, error) {
	var ch chatView
	err := eventually(ctx, "chat "+c.id+" in state "+state, func(ctx context.Context) error {
		if err := c.bot.do(ctx, http.MethodGet, c.follow+"/v1/chats/"+c.id, nil, http.StatusOK, &ch); err != nil {
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
func describeEvent(e chatEvent) string {
	s := fmt.Sprintf("#%d %s", e.Seq, e.Kind)
	for _, kv := range [][2]string{{"agent", e.Agent}, {"canned", e.Canned}, {"text", e.Text}, {"reason", e.Reason}, {"error", e.Error}} {
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
