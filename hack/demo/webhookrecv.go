package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
)

// The bot's webhook receiver, as the gateway names it: a cluster-local http URL (the
// schema allows plain http only for <service>.<namespace>.svc), reached through the
// demo's pod network stand-in like a Service would be.
const (
	webhookSecretName = "acme-bot-webhook"
	webhookHost       = "bot." + tenantNamespace + ".svc:8088"
	webhookURL        = "http://" + webhookHost + "/genesys/events"
)

// webhookReceiver is a minimal bot receiver: it verifies every delivery's signature with
// the Standard Webhooks library, as a bot in any language would with its own, and keeps the
// events by chat, once per webhook-id.
type webhookReceiver struct {
	secret string
	addr   string
	srv    *http.Server
	wh     *standardwebhooks.Webhook

	mu       sync.Mutex
	seen     map[string]bool
	events   map[string][]webhook.Payload
	verified int
	refused  int
}

// startWebhookReceiver serves the receiver on a free loopback port with a new secret.
func startWebhookReceiver() (*webhookReceiver, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, fmt.Errorf("the webhook library refused the secret: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the webhook receiver: %w", err)
	}
	r := &webhookReceiver{secret: secret, addr: l.Addr().String(), wh: wh, seen: map[string]bool{}, events: map[string][]webhook.Payload{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(fmt.Sprintf("serving the webhook receiver: %v", err))
		}
	}()
	return r, nil
}

// ServeHTTP takes one delivery: 401 when its signature does not verify, 204 otherwise.
func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "not a chat event", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.verified++
	if id := req.Header.Get(webhook.HeaderID); !r.seen[id] { // at least once: de-duplicate by id
		r.seen[id] = true
		r.events[p.ChatID] = append(r.events[p.ChatID], p)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// of returns a chat's events as received, ordered by seq.
func (r *webhookReceiver) of(chatID string) []webhook.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.events[chatID])
	slices.SortFunc(out, func(a, b webhook.Payload) int { return int(a.Event.Seq - b.Event.Seq) })
	return out
}

// counts returns the deliveries verified and refused.
func (r *webhookReceiver) counts() (verified, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.verified, r.refused
}

func (r *webhookReceiver) close() { _ = r.srv.Close() }

// webhookShows waits until the bot's webhook has the chat's terminal event and shows every
// event it received, in seq order, each verified with the Standard Webhooks library.
func (d *demo) webhookShows(ctx context.Context) error {
	id := d.conv.id
	err := eventually(ctx, "the chat's ended event at the webhook", func(context.Context) error {
		evs := d.hook.of(id)
		if len(evs) == 0 || evs[len(evs)-1].Event.Kind != chat.KindEnded {
			return fmt.Errorf("%d events so far", len(evs))
		}
		return nil
	})
	if err != nil {
		return err
	}
	evs := d.hook.of(id)
	d.out.printf("POST %s: every delivery signed (webhook-id <chat>:<seq>, webhook-timestamp, webhook-signature v1,HMAC-SHA256)", webhookURL)
	for i, p := range evs {
		if p.Event.Seq != int64(i+1) {
			return fmt.Errorf("the webhook got seq %d where %d was due: events lost or reordered", p.Event.Seq, i+1)
		}
		line := fmt.Sprintf("  seq %d %s", p.Event.Seq, p.Event.Kind)
		if p.Event.Agent != "" {
			line += " from " + p.Event.Agent
		}
		if p.Event.Text != "" {
			line += fmt.Sprintf(": %q", p.Event.Text)
		}
		d.out.printf("%s", line)
	}
	verified, refused := d.hook.counts()
	if refused > 0 {
		return fmt.Errorf("%d deliveries failed the signature check", refused)
	}
	d.out.printf("%d deliveries verified with the Standard Webhooks library (github.com/standard-webhooks), none refused", verified)
	return nil
}
