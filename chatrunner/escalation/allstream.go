package escalation

import (
	"context"
	"net/http"
	"strconv"
	"time"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// feedInterval is how often a gateway-wide stream reads this runner's chats for new
// events: no one channel tells of every chat's events, and a quarter second is well
// within the Genesys polling the events come from.
const feedInterval = 250 * time.Millisecond

// allEvents serves GET /v1/events: the events of every chat of the gateway as server-sent
// events (id: <chatId>:<seq>, event: kind, data: the event's JSON with its chatId). A bot
// needs one connection, not one per chat.
//
// The runner the call reaches serves its own chats and fans in the other runners' by
// opening the same stream on each, as a forwarded call (which serves that runner's chats
// alone). The stream ends when any runner's part ends or the gateway's runner count
// changes, so that the bot reconnects and reaches every runner again; nothing is skipped
// silently.
func (a *server) allEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	since, ok := sinceOf(r)
	if !ok {
		problemInvalid.with("since must be an RFC 3339 time", "since").write(w)
		return
	}
	if !a.streams.acquire() {
		a.refuseStream(w)
		return
	}
	defer a.streams.release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var peers []*peerStream
	replicas := 0
	if a.opts.Router != nil && r.Header.Get(forwardedHeader) == "" {
		replicas = a.opts.Router.Replicas()
		var p *problem
		if peers, p = a.opts.Router.openPeerStreams(ctx, r, replicas); p != nil {
			p.write(w)
			return
		}
	}
	sw, err := startSSE(w, "events of every chat")
	defer sw.end()
	if err != nil {
		return
	}
	frames, ended := make(chan sseFrame, 64), make(chan struct{}, len(peers))
	for _, p := range peers {
		go p.relay(ctx, frames, ended)
	}
	feed, heartbeat := time.NewTicker(feedInterval), time.NewTicker(a.opts.Heartbeat)
	defer feed.Stop()
	defer heartbeat.Stop()
	cursor := map[string]int64{}
	stopping := a.opts.Engine.Stopping()
	for err = a.sendLocal(sw, cursor, since); err == nil; {
		select {
		case f := <-frames:
			err = sw.frame(f)
		case <-feed.C:
			if replicas > 0 && a.opts.Router.Replicas() != replicas {
				return // scaled: reconnecting reaches the new set of runners
			}
			err = a.sendLocal(sw, cursor, since)
		case <-heartbeat.C:
			err = sw.comment("heartbeat")
		case <-ended:
			return
		case <-ctx.Done():
			return
		case <-stopping:
			return
		}
	}
}

// sendLocal sends this runner's new events, one bounded Feed read at a time, until there
// are none: a stream that starts with many chats catches up at once, holding one read.
func (a *server) sendLocal(sw *sseWriter, cursor map[string]int64, since time.Time) error {
	for {
		news := a.opts.Engine.Feed(cursor)
		if len(news) == 0 {
			return nil
		}
		for _, ce := range news {
			for _, e := range ce.Events {
				if e.Time.Before(since) {
					continue
				}
				ev := api.ChatEvent{ChatID: ce.ChatID, Event: eventsOf([]chat.Event{e})[0]}
				if err := sw.event(ce.ChatID+":"+strconv.FormatInt(e.Seq, 10), e.Kind, ev); err != nil {
					return err
				}
			}
		}
	}
}

// sinceOf reads the since query: the stream skips older events; zero without it.
func sinceOf(r *http.Request) (time.Time, bool) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}
