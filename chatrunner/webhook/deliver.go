package webhook

import (
	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"

	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// Defaults of Options.
const (
	defaultInterval    = 250 * time.Millisecond
	defaultConcurrency = 32
)

// ErrDisabled is what a Config source returns while the gateway names no webhook: events
// pass without delivery.
var ErrDisabled = errors.New("no webhook configured")

// Config is the webhook as the gateway names it now; it is read again for every attempt,
// so that a changed URL or rotated secret applies to the next one.
type Config struct {
	URL string
	// Keys sign each delivery: the current one first, and the previous one during a
	// rotation.
	Keys    [][]byte
	Timeout time.Duration
	// Kinds limits delivery to these event kinds; empty: all.
	Kinds []string
	// CABundle is PEM CA certificates to check the receiver's certificate against instead
	// of the system's roots; empty: the system's roots.
	CABundle []byte
}

// Source is what delivery reads: the engine.
type Source interface {
	// Feed reads every chat's events after the positions of cursor, and advances it.
	Feed(cursor map[string]int64) []chat.NewEvents
	// Tail reads a chat's events after a seq; it fails once the chat is forgotten, or
	// with chat.ErrHandedOver once another runner carries it (and delivers from there).
	Tail(id string, after int64) (chat.Tail, error)
	// Delivered records how far a chat's delivery got, so that a runner taking the chat
	// over goes on from there.
	Delivered(id string, seq int64)
}

// Observer counts deliveries (metrics).
type Observer interface {
	WebhookDelivered()
	WebhookFailed()
	WebhookRetried()
}

// Options configure a Deliverer.
type Options struct {
	Source Source
	Config func() (Config, error)
	// Client sends the deliveries when the Config has no CABundle; default: a client over
	// a clone of the default transport that follows no redirect.
	Client   *http.Client
	Observer Observer
	// OnFailing is called once when deliveries start failing (once per outage), with the
	// error: the runner turns it into a Warning event on the gateway.
	OnFailing func(err error)
	Log       logr.Logger
	Clock     clock.WithTicker
	// Backoff paces the retries of one event; default 500 ms doubling to 30 s, 20% jitter.
	Backoff wait.Backoff
	// Interval between reads of the engine's logs; default 250 ms.
	Interval time.Duration
	// Concurrency bounds the attempts in flight; default 32. A chat waiting to retry holds
	// none.
	Concurrency int
}

// Stats are the counts the runner writes into its status entry.
type Stats struct {
	Delivered, Failed int64
	LastError         string
}

// Deliverer sends every event of every chat of one runner to the webhook.
type Deliverer struct {
	opts Options
	sem  chan struct{}
	// done carries the chats whose worker finished, with the seq delivered up to.
	done chan position

	mu      sync.Mutex
	stats   Stats
	failing bool
	// changed signals a change of the stats.
	changed chan struct{}
	// caPEM and caClient are the client of the last CA bundle seen.
	caPEM    string
	caClient *http.Client
}

type position struct {
	chat string
	seq  int64
	gone bool
}

// New returns a Deliverer; Run runs it.
func New(opts Options) *Deliverer {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Interval <= 0 {
		opts.Interval = defaultInterval
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = defaultConcurrency
	}
	if opts.Backoff.Duration <= 0 {
		opts.Backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: 30 * time.Second}
	}
	if opts.Client == nil {
		opts.Client = newClient(nil, opts.Concurrency)
	}
	return &Deliverer{opts: opts, sem: make(chan struct{}, opts.Concurrency), done: make(chan position, 64), changed: make(chan struct{}, 1)}
}

// Changed signals that the stats changed (coalesced): the runner writes its status entry.
func (d *Deliverer) Changed() <-chan struct{} { return d.changed }

// Stats returns the counts so far.
func (d *Deliverer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Run delivers until ctx ends. It reads the logs of the chats with no delivery under way
// every Interval and starts one worker per chat with new events; a chat's next events are
// read at the first Interval after its worker delivered the previous ones, so each chat is
// delivered in order and what waits stays in the engine's log.
func (d *Deliverer) Run(ctx context.Context) {
	// cursor is how far each chat's delivery got, and underWay for a chat whose worker
	// runs, so that Feed reads nothing of it. It lives as long as Run: a copy made every
	// Interval cost a new map of every chat four times a second (at 10,000 chats, about
	// 1 MB a second of garbage). Feed drops the chats the engine forgot.
	cursor := map[string]int64{}
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := d.opts.Clock.NewTicker(d.opts.Interval)
	defer tick.Stop()
	for {
		news := d.opts.Source.Feed(cursor)
		_, err := d.opts.Config()
		for _, n := range news {
			if errors.Is(err, ErrDisabled) {
				continue // Feed moved the cursor past them: not delivered, by design
			}
			cursor[n.ChatID] = underWay
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.deliverChat(ctx, n)
			}()
		}
		// Until the next tick, only take note of the chats whose deliveries finished: a read
		// of every chat's log per finished chat cost O(chats) each time, and at 10,000 chats
		// and 1,000 events a second it starved delivery (make bench).
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case p := <-d.done:
				if p.gone {
					delete(cursor, p.chat)
				} else {
					cursor[p.chat] = p.seq
				}
			case <-tick.C():
				waiting = false
			}
		}
	}
}

// underWay is a chat's cursor while its worker delivers: past any seq.
const underWay = math.MaxInt64

// deliverChat delivers a batch of one chat's events in order, each retried until it is
// delivered, refused or its chat is forgotten, then reports where the chat is.
func (d *Deliverer) deliverChat(ctx context.Context, n chat.NewEvents) {
	p := position{chat: n.ChatID}
	defer func() {
		select {
		case d.done <- p:
		case <-ctx.Done():
		}
	}()
	// last is the latest seq of the chat seen: the batch's, or more seen while retrying.
	last := n.Events[len(n.Events)-1].Seq
	defer func() {
		if p.seq > 0 && !p.gone {
			d.opts.Source.Delivered(n.ChatID, p.seq)
		}
	}()
	for _, e := range n.Events {
		ok, err := d.deliverEvent(ctx, n.ChatID, e, &last)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, chat.ErrHandedOver) {
			// Its new owner delivers from what this runner recorded: nothing is lost.
			p.gone = true
			return
		}
		if !ok {
			lost := last - e.Seq + 1
			d.count(func(s *Stats) { s.Failed += lost })
			for range lost {
				d.observe(func(o Observer) { o.WebhookFailed() })
			}
			d.opts.Log.Info("Lost webhook deliveries: the chat was forgotten before they succeeded", "chat", n.ChatID, "events", lost)
			p.gone = true
			return
		}
		p.seq = e.Seq
	}
}

// deliverEvent sends one event until the receiver takes it (true), refuses it (true:
// counted as failed, not retried) or the chat is forgotten or handed over (false, with
// Tail's error). Between retries it checks that the chat is still held, and raises last
// to the latest seq it saw (up to 100 ahead: what is counted lost if the chat is
// forgotten is a lower bound).
func (d *Deliverer) deliverEvent(ctx context.Context, chatID string, e chat.Event, last *int64) (bool, error) {
	backoff := d.opts.Backoff
	var asked time.Duration // the receiver's Retry-After of the last attempt
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			d.observe(func(o Observer) { o.WebhookRetried() })
			t := d.opts.Clock.NewTimer(max(backoff.Step(), asked))
			select {
			case <-ctx.Done():
				t.Stop()
				return true, nil
			case <-t.C():
			}
			tail, err := d.opts.Source.Tail(chatID, e.Seq)
			if err != nil {
				return false, err
			}
			if n := len(tail.Events); n > 0 {
				*last = max(*last, tail.Events[n-1].Seq)
			}
		}
		cfg, err := d.opts.Config()
		if errors.Is(err, ErrDisabled) {
			return true, nil
		}
		if err == nil && !wanted(cfg.Kinds, e.Kind) {
			return true, nil
		}
		retry := true
		if err == nil {
			retry, err = d.attempt(ctx, cfg, chatID, e)
		}
		asked = retryAfterOf(err)
		if err == nil {
			d.succeeded()
			return true, nil
		}
		if ctx.Err() != nil {
			return true, nil
		}
		d.failed(err)
		if !retry {
			d.count(func(s *Stats) { s.Failed++ })
			d.observe(func(o Observer) { o.WebhookFailed() })
			return true, nil
		}
	}
}

func wanted(kinds []string, kind string) bool {
	if len(kinds) == 0 {
		return true
	}
	for _, k := range kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Payload is the body of a delivery.
type Payload struct {
	Type   string     `json:"type"`
	ChatID string     `json:"chatId"`
	Event  chat.Event `json:"event"`
}

// PayloadType is the type of every delivery: the contract's.
const PayloadType = api.WebhookPayloadType

// attempt POSTs one event once; it reports whether a failure is worth retrying.
func (d *Deliverer) attempt(ctx context.Context, cfg Config, chatID string, e chat.Event) (bool, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-d.sem }()
	body, err := json.Marshal(Payload{Type: PayloadType, ChatID: chatID, Event: e})
	if err != nil {
		return false, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook url: %w", err)
	}
	id := chatID + ":" + strconv.FormatInt(e.Seq, 10)
	ts := d.opts.Clock.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(cfg.Keys, id, ts, body))
	c, err := d.clientFor(cfg.CABundle)
	if err != nil {
		return true, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook delivery: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		err := fmt.Errorf("webhook answered %d", code)
		if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), d.opts.Clock.Now()); ok {
			return true, &retryAfterError{err: err, wait: wait}
		}
		return true, err
	default:
		return false, fmt.Errorf("webhook refused an event with %d (not retried)", code)
	}
}

func (d *Deliverer) succeeded() {
	d.count(func(s *Stats) { s.Delivered++; s.LastError = "" })
	d.observe(func(o Observer) { o.WebhookDelivered() })
	d.mu.Lock()
	d.failing = false
	d.mu.Unlock()
}

func (d *Deliverer) failed(err error) {
	d.mu.Lock()
	d.stats.LastError = err.Error()
	first := !d.failing
	d.failing = true
	d.mu.Unlock()
	d.signal()
	if first && d.opts.OnFailing != nil {
		d.opts.OnFailing(err)
	}
}

func (d *Deliverer) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
	d.signal()
}

func (d *Deliverer) signal() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *Deliverer) observe(f func(Observer)) {
	if d.opts.Observer != nil {
		f(d.opts.Observer)
	}
}

// newClient is a client over a clone of the default transport, trusting roots (nil: the
// system's), that follows no redirect. It keeps as many idle connections to the receiver
// as attempts may be in flight: with the transport's default of 2, most deliveries dialled
// a new connection (make bench: thousands of TIME-WAIT sockets, 7.5% of the runner's CPU).
func newClient(roots *x509.CertPool, inFlight int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(inFlight, 2)
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// clientFor returns the client for a CA bundle: Options.Client without one, else a client
// trusting it, kept while the bundle stays the same (a changed bundle applies to the next
// attempt; the previous client's idle connections are closed).
func (d *Deliverer) clientFor(pem []byte) (*http.Client, error) {
	if len(pem) == 0 {
		return d.opts.Client, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.caClient != nil && d.caPEM == string(pem) {
		return d.caClient, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("the webhook's CA bundle holds no PEM certificate")
	}
	if d.caClient != nil {
		d.caClient.CloseIdleConnections()
	}
	d.caPEM, d.caClient = string(pem), newClient(roots, d.opts.Concurrency)
	return d.caClient, nil
}
