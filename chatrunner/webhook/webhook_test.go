package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// newSecret returns a fresh whsec_ secret.
func newSecret(t *testing.T) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
	p      webhook.Payload
}

// receiver records deliveries; answer decides each one's status code.
type receiver struct {
	mu     sync.Mutex
	got    []delivery
	times  []time.Time
	answer func(p webhook.Payload, n int) int
	// retryAfter, when set, is sent with every answer that is not 2xx.
	retryAfter string
	srv        *httptest.Server
}

func newReceiver(t *testing.T, answer func(p webhook.Payload, n int) int) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p webhook.Payload
		_ = json.Unmarshal(body, &p)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body, p: p})
		r.times = append(r.times, time.Now())
		n := len(r.got)
		r.mu.Unlock()
		code := http.StatusNoContent
		if r.answer != nil {
			code = r.answer(p, n)
		}
		if code >= 300 && r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// accepted returns the seqs of one chat the receiver answered 2xx to, in order, given the
// answers it gave (recorded by ok).
func seqsOf(ds []delivery, chatID string) []int64 {
	var out []int64
	for _, d := range ds {
		if d.p.ChatID == chatID {
			out = append(out, d.p.Event.Seq)
		}
	}
	return out
}

// fakeSource is an engine's event logs, written by the test.
type fakeSource struct {
	mu    sync.Mutex
	logs  map[string][]chat.Event
	feeds atomic.Int64
	// delivered is how far delivery reported each chat.
	delivered map[string]int64
}

func newFakeSource() *fakeSource { return &fakeSource{logs: map[string][]chat.Event{}} }

func (f *fakeSource) add(chatID string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := int64(len(f.logs[chatID]) + 1)
		f.logs[chatID] = append(f.logs[chatID], chat.Event{Seq: seq, Kind: chat.KindMessage, Text: fmt.Sprintf("m%d", seq)})
	}
}

func (f *fakeSource) forget(chatID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.logs, chatID)
}

func (f *fakeSource) Delivered(id string, seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delivered == nil {
		f.delivered = map[string]int64{}
	}
	f.delivered[id] = max(f.delivered[id], seq)
}

func (f *fakeSource) Feed(cursor map[string]int64) []chat.NewEvents {
	f.feeds.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range cursor {
		if _, ok := f.logs[id]; !ok {
			delete(cursor, id)
		}
	}
	var out []chat.NewEvents
	for id, log := range f.logs {
		after := cursor[id]
		if after >= int64(len(log)) {
			continue
		}
		evs := append([]chat.Event(nil), log[after:min(int64(len(log)), after+100)]...)
		cursor[id] = evs[len(evs)-1].Seq
		out = append(out, chat.NewEvents{ChatID: id, Events: evs})
	}
	return out
}

func (f *fakeSource) Tail(id string, after int64) (chat.Tail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	log, ok := f.logs[id]
	if !ok {
		return chat.Tail{}, chat.ErrNotFound
	}
	if after >= int64(len(log)) {
		return chat.Tail{}, nil
	}
	return chat.Tail{Events: append([]chat.Event(nil), log[after:]...)}, nil
}

// counter is an Observer.
type counter struct{ delivered, failed, retried atomic.Int64 }

func (c *counter) WebhookDelivered() { c.delivered.Add(1) }
func (c *counter) WebhookFailed()    { c.failed.Add(1) }
func (c *counter) WebhookRetried()   { c.retried.Add(1) }

// run starts a Deliverer of src to url signed with secrets until the test ends.
func run(t *testing.T, src webhook.Source, url string, obs *counter, onFailing func(error), secrets ...string) *webhook.Deliverer {
	var keys [][]byte
	for _, s := range secrets {
		k, err := webhook.ParseSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	d := webhook.New(webhook.Options{
		Source:    src,
		Config:    func() (webhook.Config, error) { return webhook.Config{URL: url, Keys: keys, Timeout: time.Second}, nil },
		Observer:  obs,
		OnFailing: onFailing,
		Backoff:   wait.Backoff{Duration: 5 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 1 << 20, Cap: 40 * time.Millisecond},
		Interval:  10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func TestEventsOfARealEngineArriveSignedAsABotVerifiesThem(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0"})
	secret := newSecret(t)
	rcv := newReceiver(t, nil)
	run(t, env.Manager.Webhooks(), rcv.srv.URL, &counter{}, nil, secret)

	v, _, err := env.Manager.Escalate(t.Context(), chat.Escalation{ConversationID: "conv-1", Domain: "acme", User: chat.User{FirstName: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string { v, _ = env.Manager.Get(v.ID); return v.GenesysChatID }).ShouldNot(BeEmpty())
	g.Expect(env.Sim.AgentJoin(v.GenesysChatID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Expect(env.Sim.AgentMessage(v.GenesysChatID, "hello")).To(Succeed())
	g.Expect(env.Sim.Close(v.GenesysChatID)).To(Succeed())
	g.Eventually(func() string {
		ds := rcv.deliveries()
		if len(ds) == 0 {
			return ""
		}
		return ds[len(ds)-1].p.Event.Kind
	}).Should(Equal(chat.KindEnded))

	wh, err := standardwebhooks.NewWebhook(secret)
	g.Expect(err).NotTo(HaveOccurred())
	ds := rcv.deliveries()
	for i, d := range ds {
		g.Expect(wh.Verify(d.body, d.header)).To(Succeed(), "the library verifies delivery %d", i)
		g.Expect(d.p.Type).To(Equal("chat.event"))
		g.Expect(d.p.ChatID).To(Equal(v.ID))
		g.Expect(d.p.Event.Seq).To(BeEquivalentTo(i+1), "in order, gap-free")
		g.Expect(d.header.Get("webhook-id")).To(Equal(fmt.Sprintf("%s:%d", v.ID, i+1)))
		g.Expect(d.header.Get("Content-Type")).To(Equal("application/json"))
	}
	g.Expect(slices.ContainsFunc(ds, func(d delivery) bool { return d.p.Event.Kind == chat.KindMessage && d.p.Event.Text == "hello" })).To(BeTrue())
	g.Expect(ds[len(ds)-1].p.Event.Kind).To(Equal(chat.KindEnded))

	tampered := append([]byte(nil), ds[0].body...)
	tampered[len(tampered)-2] ^= 1
	g.Expect(wh.Verify(tampered, ds[0].header)).NotTo(Succeed(), "a changed body fails")
	other, _ := standardwebhooks.NewWebhook(newSecret(t))
	g.Expect(other.Verify(ds[0].body, ds[0].header)).NotTo(Succeed(), "another secret fails")
}

func TestAReceiverFailingThenRecoveringGetsEveryEventInOrder(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	var calls atomic.Int64
	rcv := newReceiver(t, func(p webhook.Payload, n int) int {
		if calls.Add(1) <= 7 {
			return []int{500, 503, 429, 408, 502, 500, 504}[n-1]
		}
		return http.StatusOK
	})
	obs := &counter{}
	var warnings atomic.Int64
	d := run(t, src, rcv.srv.URL, obs, func(error) { warnings.Add(1) }, newSecret(t))
	src.add("c1", 5)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(5))
	src.add("c1", 3)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(8))

	ds := rcv.deliveries()
	g.Expect(seqsOf(ds, "c1")).To(Equal([]int64{1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8}),
		"retried in order: no later event before an earlier one is taken")
	ids := map[string]string{}
	for _, d := range ds {
		id := d.header.Get("webhook-id")
		if prev, ok := ids[id]; ok {
			g.Expect(string(d.body)).To(Equal(prev), "a duplicate is the same event under the same id")
		}
		ids[id] = string(d.body)
	}
	g.Expect(ids).To(HaveLen(8), "one id per seq")
	g.Expect(obs.retried.Load()).To(BeEquivalentTo(7))
	g.Expect(obs.failed.Load()).To(BeZero())
	g.Expect(warnings.Load()).To(BeEquivalentTo(1), "one warning for the outage")
	g.Expect(d.Stats()).To(Equal(webhook.Stats{Delivered: 8}), "the last error clears once delivered")
	g.Eventually(func() int64 { src.mu.Lock(); defer src.mu.Unlock(); return src.delivered["c1"] }).Should(BeEquivalentTo(8), "how far delivery got is reported")
}

// TestAHandedOverChatIsDeliveredOnceAcrossRunners: the runner taking a chat over delivers
// from where the previous one's record says delivery got, so each seq reaches the receiver
// once across both runners.
func TestAHandedOverChatIsDeliveredOnceAcrossRunners(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	store := chattest.NewMemStore(chatstore.ChatsPerShard)
	a := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0", Ordinal: 0, Store: store})
	b := chattest.StartOn(t, a.URL, chattest.Settings(), chat.Options{IDPrefix: "r1", Ordinal: 1, Store: store})
	rcv := newReceiver(t, nil)
	run(t, a.Manager.Webhooks(), rcv.srv.URL, &counter{}, nil, newSecret(t))
	run(t, b.Manager.Webhooks(), rcv.srv.URL, &counter{}, nil, newSecret(t))

	v, _, err := a.Manager.Escalate(t.Context(), chat.Escalation{ConversationID: "conv-1", Domain: "acme", User: chat.User{FirstName: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string { v, _ = a.Manager.Get(v.ID); return v.GenesysChatID }).ShouldNot(BeEmpty())
	g.Expect(a.Sim.AgentJoin(v.GenesysChatID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Expect(a.Sim.AgentMessage(v.GenesysChatID, "before")).To(Succeed())
	delivered := func() int64 {
		r, err := chatstore.Decode(store.Records(0)[v.ID])
		g.Expect(err).NotTo(HaveOccurred())
		return r.WebhookDelivered
	}
	g.Eventually(delivered).Should(BeEquivalentTo(4), "waiting notice, agentJoined, its notice, the message: recorded")

	g.Expect(a.Manager.Release(0)).To(Equal(1))
	_, _ = b.Manager.Resume(0, store.Load(0))
	g.Expect(a.Sim.AgentMessage(v.GenesysChatID, "after")).To(Succeed())
	g.Eventually(func() []int64 { return seqsOf(rcv.deliveries(), v.ID) }).Should(Equal([]int64{1, 2, 3, 4, 5}),
		"every seq once, in order, across the hand-over")
	g.Expect(rcv.deliveries()[4].p.Event.Text).To(Equal("after"))
}

func TestARefusedEventIsNotRetried(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	rcv := newReceiver(t, func(p webhook.Payload, _ int) int {
		if p.Event.Seq == 2 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	obs := &counter{}
	d := run(t, src, rcv.srv.URL, obs, nil, newSecret(t))
	src.add("c1", 3)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(2))
	g.Consistently(func() []int64 { return seqsOf(rcv.deliveries(), "c1") }).WithTimeout(100*time.Millisecond).
		Should(Equal([]int64{1, 2, 3}), "400 skips the event, once")
	g.Expect(obs.failed.Load()).To(BeEquivalentTo(1))
	g.Expect(obs.retried.Load()).To(BeZero())
	g.Expect(d.Stats().Failed).To(BeEquivalentTo(1))
	g.Expect(d.Stats().LastError).To(BeEmpty(), "event 3 succeeded after")
}

func TestAChatWhoseDeliveriesFailDoesNotHoldUpOthers(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	// The receiver is down for chat "stuck" (slowly: every attempt times out), up for others.
	rcv := newReceiver(t, func(p webhook.Payload, _ int) int {
		if p.ChatID == "stuck" {
			time.Sleep(1500 * time.Millisecond)
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	obs := &counter{}
	d := run(t, src, rcv.srv.URL, obs, nil, newSecret(t))
	src.add("stuck", 50)
	g.Eventually(func() int { return len(seqsOf(rcv.deliveries(), "stuck")) }).Should(BeNumerically(">=", 1))
	feeds := src.feeds.Load()
	start := time.Now()
	for i := range 20 {
		src.add(fmt.Sprintf("c%d", i), 10)
	}
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(200))
	g.Expect(time.Since(start)).To(BeNumerically("<", time.Second), "the other chats are not held up")
	g.Eventually(func() int64 { return src.feeds.Load() - feeds }).Should(BeNumerically(">", 1), "the logs are still read")
	g.Expect(seqsOf(rcv.deliveries(), "stuck")).To(HaveEach(BeEquivalentTo(1)), "the stuck chat stays at its first event")

	src.add("stuck", 5) // seen while retrying: the check before the next attempt reads them
	tried := len(seqsOf(rcv.deliveries(), "stuck"))
	g.Eventually(func() int { return len(seqsOf(rcv.deliveries(), "stuck")) }).Should(BeNumerically(">", tried))
	src.forget("stuck")
	g.Eventually(func() int64 { return d.Stats().Failed }).Should(BeEquivalentTo(55), "events of a forgotten chat are counted lost")
	g.Expect(d.Stats().LastError).To(ContainSubstring("deadline exceeded"), "each attempt timed out")
}

func TestARotationSignsWithBothSecrets(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	rcv := newReceiver(t, nil)
	current, previous := newSecret(t), newSecret(t)
	obs := &counter{}
	run(t, src, rcv.srv.URL, obs, nil, current, previous)
	src.add("c1", 1)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(1))

	d := rcv.deliveries()[0]
	sigs := strings.Split(d.header.Get("webhook-signature"), " ")
	g.Expect(sigs).To(HaveLen(2))
	for _, s := range []string{current, previous} {
		wh, err := standardwebhooks.NewWebhook(s)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(wh.Verify(d.body, d.header)).To(Succeed(), "a bot with either secret verifies")
		expected, err := wh.Sign(d.header.Get("webhook-id"), time.Unix(0, 0).Add(parseTS(g, d)), d.body)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sigs).To(ContainElement(expected), "each signature verifies on its own")
	}
	g.Expect(sigs[0]).To(Equal(webhook.Sign([][]byte{mustKey(g, current)}, d.header.Get("webhook-id"), int64(parseTS(g, d)/time.Second), d.body)), "the current secret signs first")
}

func TestParseSecret(t *testing.T) {
	g := NewWithT(t)
	_, err := webhook.ParseSecret("whsec_not base64")
	g.Expect(err).To(HaveOccurred())
	_, err = webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("short")))
	g.Expect(err).To(MatchError(ContainSubstring("at least 16")))
	k, err := webhook.ParseSecret(" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k).To(HaveLen(24))
}

func parseTS(g *WithT, d delivery) time.Duration {
	var ts int64
	_, err := fmt.Sscan(d.header.Get("webhook-timestamp"), &ts)
	g.Expect(err).NotTo(HaveOccurred())
	return time.Duration(ts) * time.Second
}

func mustKey(g *WithT, s string) []byte {
	k, err := webhook.ParseSecret(s)
	g.Expect(err).NotTo(HaveOccurred())
	return k
}

func TestConfigIsReadLiveWithKindsAndDisabling(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	rcv := newReceiver(t, nil)
	key := mustKey(g, newSecret(t))
	var cfg atomic.Pointer[webhook.Config]
	obs := &counter{}
	d := webhook.New(webhook.Options{
		Source: src,
		Config: func() (webhook.Config, error) {
			if c := cfg.Load(); c != nil {
				return *c, nil
			}
			return webhook.Config{}, webhook.ErrDisabled
		},
		Observer: obs,
		Interval: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	src.add("c1", 3)
	g.Consistently(rcv.deliveries).WithTimeout(100*time.Millisecond).Should(BeEmpty(), "no webhook: nothing sent")
	cfg.Store(&webhook.Config{URL: rcv.srv.URL, Keys: [][]byte{key}, Kinds: []string{chat.KindEnded}})
	src.mu.Lock()
	src.logs["c1"] = append(src.logs["c1"], chat.Event{Seq: 4, Kind: chat.KindMessage}, chat.Event{Seq: 5, Kind: chat.KindEnded})
	src.mu.Unlock()
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(1))
	g.Consistently(func() []int64 { return seqsOf(rcv.deliveries(), "c1") }).WithTimeout(100*time.Millisecond).
		Should(Equal([]int64{5}), "events from before the webhook was set are not sent; only the kinds asked for")
	g.Expect(rcv.deliveries()[0].header.Get("webhook-id")).To(Equal("c1:5"), "the id keeps the seq")
}

func TestAReceiverWithAPrivateCAIsTrustedThroughTheCABundle(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	var got atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got.Add(1) }))
	t.Cleanup(srv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	var bundle atomic.Pointer[[]byte]
	src := newFakeSource()
	obs := &counter{}
	d := webhook.New(webhook.Options{
		Source: src,
		Config: func() (webhook.Config, error) {
			c := webhook.Config{URL: srv.URL, Keys: [][]byte{mustKey(g, newSecret(t))}}
			if b := bundle.Load(); b != nil {
				c.CABundle = *b
			}
			return c, nil
		},
		Observer: obs,
		Backoff:  wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1, Steps: 1 << 20},
		Interval: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	src.add("c1", 1)
	g.Eventually(func() string { return d.Stats().LastError }).Should(ContainSubstring("certificate"), "the system's roots do not trust it")
	g.Expect(got.Load()).To(BeZero())
	bundle.Store(&caPEM)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(1), "read live: the next attempt trusts the bundle")
}

// TestAReceiversRetryAfterIsHonoured: a 503 with Retry-After: 1 is retried after a second,
// not after the back-off's milliseconds.
func TestAReceiversRetryAfterIsHonoured(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	src := newFakeSource()
	rcv := newReceiver(t, func(_ webhook.Payload, n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	rcv.retryAfter = "1"
	obs := &counter{}
	run(t, src, rcv.srv.URL, obs, nil, newSecret(t))
	src.add("c1", 1)
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(1))
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	g.Expect(rcv.times).To(HaveLen(2))
	g.Expect(rcv.times[1].Sub(rcv.times[0])).To(BeNumerically(">=", 900*time.Millisecond),
		"the back-off alone would retry within 40 ms")
}

// TestDeliveriesReuseTheirConnections: the receiver sees about as many connections as
// attempts may be in flight, not one per delivery.
func TestDeliveriesReuseTheirConnections(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(10 * time.Second)
	src := newFakeSource()
	rcv := newReceiver(t, nil)
	var conns atomic.Int64
	rcv.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	obs := &counter{}
	run(t, src, rcv.srv.URL, obs, nil, newSecret(t))
	for i := range 100 {
		src.add(fmt.Sprintf("c%d", i), 5)
	}
	g.Eventually(obs.delivered.Load).Should(BeEquivalentTo(500))
	g.Expect(conns.Load()).To(BeNumerically("<=", 64), "500 deliveries over about the 32 attempts in flight (a connection per delivery: well over 100)")
}
