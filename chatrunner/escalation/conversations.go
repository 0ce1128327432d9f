package escalation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// peerLookupTimeout bounds the question to one peer runner whether it carries a
// conversation's live chat.
const peerLookupTimeout = 3 * time.Second

// noLiveChatHeader marks a 404 of GET /v1/conversations/{id} that means "no live chat
// here", as opposed to a 404 of a runner that does not serve the lookup (an older release
// during a rolling update), which says nothing about the conversation.
const noLiveChatHeader = "X-Chat-Runner-No-Live-Chat"

// conversationRetryAfter is the Retry-After of an escalation refused because a peer could
// not say whether it carries the conversation: a rolling update replaces one runner at a
// time, each back in seconds.
const conversationRetryAfter = 5 * time.Second

// conversation serves GET /v1/conversations/{id}: the live chat of a bot's conversation,
// on whichever runner carries it, or 404. A call one runner forwarded to another is
// answered from that runner alone.
func (a *server) conversation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	id := r.PathValue("id")
	if id == "" || utf8.RuneCountInString(id) > api.MaxConversationIDLength {
		problemNotFound.with("No such conversation.", "").write(w)
		return
	}
	v, ok, err := a.opts.Engine.LiveChatOf(r.Context(), id)
	switch {
	case err != nil:
		a.fail(w, err)
		return
	case ok:
		writeJSON(w, http.StatusOK, chatOf(v))
		return
	}
	if rt := a.opts.Router; rt != nil && rt.Settled != nil && !rt.Settled() {
		p := problemUnavailable.with("This runner is still taking over chats; it cannot say yet whether it carries the conversation.", "")
		p.RetryAfter = time.Second
		p.write(w)
		return
	}
	if r.Header.Get(forwardedHeader) == "" && a.answeredByPeers(w, r, id) {
		return
	}
	w.Header().Set(noLiveChatHeader, "true")
	problemNotFound.with(fmt.Sprintf("No runner of this gateway carries a live chat of conversation %q.", id), "").write(w)
}

// answeredByPeers answers with the conversation's live chat on another runner, or with the
// problem of a runner that could not say, and reports whether it answered.
func (a *server) answeredByPeers(w http.ResponseWriter, r *http.Request, conversationID string) bool {
	found, p := a.opts.Router.findOnPeers(r, conversationID)
	switch {
	case p != nil:
		p.write(w)
	case found != nil:
		writeJSON(w, http.StatusOK, found)
	default:
		return false
	}
	return true
}

// findOnPeers asks every other runner whether it carries the conversation's live chat,
// with the caller's credentials. It returns the chat, nil when none does, or a problem
// when a runner could not answer: then whether the chat exists is unknown, and creating
// one could duplicate it.
func (r *Router) findOnPeers(req *http.Request, conversationID string) (*api.Chat, *problem) {
	if r == nil {
		return nil, nil
	}
	type answer struct {
		ordinal int
		found   *api.Chat
		err     error
	}
	peers, p := r.peers()
	if p != nil {
		return nil, p
	}
	answers := make(chan answer, len(peers))
	asked := 0
	for _, ordinal := range peers {
		asked++
		go func() {
			found, err := r.askPeer(req, ordinal, conversationID)
			answers <- answer{ordinal, found, err}
		}()
	}
	var failed *answer
	for range asked {
		a := <-answers
		switch {
		case a.found != nil:
			return a.found, nil
		case a.err != nil && failed == nil:
			failed = &a
		}
	}
	if failed != nil {
		p := problemUnavailable.with(fmt.Sprintf("Runner %d could not say whether it carries a live chat of this conversation (%v); retry.", failed.ordinal, failed.err), "")
		p.RetryAfter = conversationRetryAfter
		return nil, &p
	}
	return nil, nil
}

// peers are the other runners that carry chats: the holders of every store. A store no
// runner holds yet (a hand-over under way, or this runner still loading it) is a problem:
// its chats' conversations are unknown until it is carried again.
func (r *Router) peers() ([]int, *problem) {
	var out []int
	add := func(k int) {
		if k != r.Self && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if r.Holder == nil || r.Stores == nil {
		for k := range r.Replicas() {
			add(k)
		}
		return out, nil
	}
	for _, store := range r.Stores() {
		holder, ok := r.Holder(store)
		if !ok {
			p := problemUnavailable.with(fmt.Sprintf("The chats of runner %d are being handed over; whether one is this conversation's is unknown until then: retry.", store), "")
			p.RetryAfter = time.Second
			return nil, &p
		}
		add(holder)
	}
	return out, nil
}

// askPeer asks one runner for the conversation's live chat, as a forwarded call.
func (r *Router) askPeer(req *http.Request, ordinal int, conversationID string) (*api.Chat, error) {
	base, err := r.Resolve(ordinal)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), peerLookupTimeout)
	defer cancel()
	target := *base
	target.Path = strings.TrimSuffix(base.Path, "/") + "/v1/conversations/" + conversationID
	target.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + "/v1/conversations/" + url.PathEscape(conversationID)
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	out.Header.Set("Authorization", req.Header.Get("Authorization"))
	out.Header.Set(forwardedHeader, strconv.Itoa(r.Self))
	transport := r.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	resp, err := transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get(noLiveChatHeader) != "":
		return nil, nil
	case resp.StatusCode == http.StatusOK:
		var c api.Chat
		if err := json.NewDecoder(io.LimitReader(resp.Body, api.MaxBodyBytes)).Decode(&c); err != nil {
			return nil, fmt.Errorf("decoding its answer: %w", err)
		}
		return &c, nil
	default:
		return nil, fmt.Errorf("it answered %s", resp.Status)
	}
}
