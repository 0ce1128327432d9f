package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

var (
	// cfg and admin are the API server's and its admin's client; nil when envtest is not
	// available (skipReason says why).
	cfg        *rest.Config
	admin      client.Client
	skipReason string
	namespaces atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		skipReason = "KUBEBUILDER_ASSETS is not set: skipping the envtest tests of the chat store (run `make envtest` and set it, e.g. KUBEBUILDER_ASSETS=bin/k8s/v1.37.2)"
		fmt.Fprintln(os.Stderr, skipReason)
		os.Exit(m.Run())
	}
	env := &envtest.Environment{}
	var err error
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		os.Exit(1)
	}
	admin, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the admin client:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// fixture is one test's namespace, gateway and helpers.
type fixture struct {
	t   *testing.T
	g   *WithT
	ctx context.Context
	gw  *chatv1alpha1.GenesysGateway
	obs *observer
}

// setup skips without envtest, and makes a namespace of the test's own.
func setup(t *testing.T) *fixture {
	t.Helper()
	if admin == nil {
		t.Skip(skipReason)
	}
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(20 * time.Second)
	g.SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("store-%d", namespaces.Add(1))}}
	g.Expect(admin.Create(ctx, ns)).To(Succeed())
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "acme"}}
	return &fixture{t: t, g: g, ctx: ctx, gw: gw, obs: &observer{}}
}

// shards creates an ordinal's shards as the operator does: empty, labelled.
func (f *fixture) shards(ordinal, n int) {
	f.t.Helper()
	for i := range n {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Namespace: f.gw.Namespace, Name: chatstore.ShardName(f.gw, ordinal, i),
			Labels: map[string]string{chatstore.LabelStore: chatstore.StoreValue, chatstore.LabelOrdinal: fmt.Sprint(ordinal)},
		}}
		f.g.Expect(admin.Create(f.ctx, sec)).To(Succeed())
	}
}

// store returns a running Store over c (admin when nil), stopped at the test's end.
func (f *fixture) store(c client.Client, mutate func(*store.Options)) *store.Store {
	f.t.Helper()
	if c == nil {
		c = admin
	}
	opts := store.Options{
		Client: c, Gateway: f.gw, Interval: time.Second, Log: testr.NewWithOptions(f.t, testr.Options{Verbosity: 1}), Observer: f.obs,
		Backoff: wait.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.5, Cap: 200 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&opts)
	}
	s := store.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

// secret reads a shard.
func (f *fixture) secret(ordinal, shard int) *corev1.Secret {
	f.t.Helper()
	var sec corev1.Secret
	f.g.Expect(admin.Get(f.ctx, client.ObjectKey{Namespace: f.gw.Namespace, Name: chatstore.ShardName(f.gw, ordinal, shard)}, &sec)).To(Succeed())
	return &sec
}

// record encodes a small record of a chat.
func record(id string, seq int64) []byte {
	b, err := chatstore.Encode(chatstore.Record{
		ID: id, ConversationID: "conv-" + id, State: chatv1alpha1.ChatConnected, NextSeq: seq,
		Session: chatstore.Session{ChatID: "g-" + id, SecureKey: "secure-key-" + id},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// largest encodes a record of exactly chatstore.MaxRecordBytes for an id of
// chatstore.MaxIDBytes.
func largest(id string) []byte {
	largestOnce.Do(func() { largestTemplate = padded(strings.Repeat("0", chatstore.MaxIDBytes)) })
	r := largestTemplate
	r.ID = id
	b, err := chatstore.Encode(r)
	if err != nil || len(b) != chatstore.MaxRecordBytes {
		panic(fmt.Sprintf("largest record is %d bytes: %v", len(b), err))
	}
	return b
}

var (
	largestOnce     sync.Once
	largestTemplate chatstore.Record
)

// padded returns a record of exactly chatstore.MaxRecordBytes: every field at its bound,
// some characters escaped (six bytes in JSON) to reach the record's bound.
func padded(id string) chatstore.Record {
	ids := make([]string, chatstore.MaxClientMessages)
	for i := range ids {
		ids[i] = strings.Repeat("m", chatstore.MaxClientMessageIDBytes)
	}
	r := chatstore.Record{
		ID: id, ConversationID: strings.Repeat("c", chatstore.MaxConversationIDBytes),
		Session: chatstore.Session{
			ChatID: strings.Repeat("1", chatstore.MaxSessionFieldBytes), UserID: strings.Repeat("2", chatstore.MaxSessionFieldBytes),
			SecureKey: strings.Repeat("3", chatstore.MaxSessionFieldBytes), Alias: strings.Repeat("4", chatstore.MaxSessionFieldBytes),
		},
		State: chatv1alpha1.ChatConnected, RequestTime: 1 << 62, WaitingTime: 1 << 62, ConnectTime: 1 << 62,
		TranscriptPosition: 1 << 30, NextSeq: 1 << 62, WebhookDelivered: 1 << 62, ClientMessages: ids,
		Agent: strings.Repeat("a", chatstore.MaxAgentBytes), AgentEmail: strings.Repeat("e", chatstore.MaxAgentBytes),
		LastError: strings.Repeat("x", chatstore.MaxErrorBytes),
	}
	size := func() int { b, _ := json.Marshal(r); return len(b) }
	for i := 0; size() < chatstore.MaxRecordBytes; i++ { // each escaped character: five bytes more
		r.LastError = r.LastError[:i] + "\x01" + r.LastError[i+1:]
	}
	r.ConversationID = r.ConversationID[:len(r.ConversationID)-(size()-chatstore.MaxRecordBytes)]
	return r
}

// longID is a chat id of chatstore.MaxIDBytes.
func longID(ordinal, i int) string {
	id := fmt.Sprintf("r%d-%d", ordinal, i)
	return id[:3] + strings.Repeat("0", chatstore.MaxIDBytes-len(id)) + id[3:]
}

// observer counts the Store's writes.
type observer struct {
	mu      sync.Mutex
	writes  int
	errors  int
	bytes   int
	records int
}

func (o *observer) Wrote(_, _, bytes int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.errors++
		return
	}
	o.writes++
	o.bytes += bytes
}

func (o *observer) Stored(records int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.records = records
}

func (o *observer) Writes() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writes
}

func (o *observer) Errors() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.errors
}

// faulty is a client whose Patch fails as told.
type faulty struct {
	client.Client
	mu sync.Mutex
	// fail, when set, decides the outcome of the next Patch: applied says the patch is sent
	// to the API server all the same (a write that timed out after it was applied).
	fail func() (err error, applied bool)
}

func (c *faulty) set(fail func() (error, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = fail
}

func (c *faulty) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail == nil {
		return c.Client.Patch(ctx, obj, patch, opts...)
	}
	err, applied := fail()
	if err == nil {
		return c.Client.Patch(ctx, obj, patch, opts...)
	}
	if applied {
		if perr := c.Client.Patch(ctx, obj, patch, opts...); perr != nil {
			return errors.Join(err, perr)
		}
	}
	return err
}
