package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Lease timings of the fleet's runners: short, so that a crash is adopted in seconds.
const (
	fleetLeaseDuration = 3 * time.Second
	fleetRenewDeadline = 2 * time.Second
	fleetRetryPeriod   = 500 * time.Millisecond
)

// fleet is a deployed gateway whose runner ordinals run in this process with
// chatrunner.Run, each reaching the API server as the runner ServiceAccount through a
// transport that can be cut (a dead process, a partition), all sharing one GMS simulator.
type fleet struct {
	key    client.ObjectKey
	sa     string
	sim    *gmssim.Simulator
	token  string
	opts   fleetOptions
	mu     sync.Mutex
	active map[int]*fleetRunner // the current process of each ordinal
}

// fleetOptions vary a fleet from newFleet's.
type fleetOptions struct {
	// probeInterval and probeRetry are the runners' --genesys-probe-interval and
	// --genesys-probe-retry; the defaults (30 s, 10 s) when 0.
	probeInterval, probeRetry time.Duration
	// gateway changes the gateway before it is created, in its namespace (which it may
	// fill: Secrets, ConfigMaps); its connection reaches the simulator with Basic auth.
	gateway func(namespace string, gw *chatv1alpha1.GenesysGateway)
}

// fleetRunner is one process of a runner ordinal.
type fleetRunner struct {
	ordinal              int
	pod                  string
	api, health, metrics string // base URLs
	cut                  *cuttable
	cancel               context.CancelFunc
	done                 chan error
	logs                 *syncBuffer
}

// newFleet creates a deployed gateway with replicas runners (none started yet), its GMS
// simulator and credentials.
func newFleet(replicas int32) *fleet {
	GinkgoHelper()
	return newFleetWith(replicas, fleetOptions{})
}

// newFleetWith is newFleet with options.
func newFleetWith(replicas int32, opts fleetOptions) *fleet {
	GinkgoHelper()
	ns := newNamespace()
	sim := gmssim.New(gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "gms-user", Password: gmsPassword}})
	srv := httptest.NewServer(sim)
	DeferCleanup(srv.Close)
	Expect(k8sClient.Create(ctx, newSecret(ns, "gms-basic", map[string]string{"username": "gms-user", "password": gmsPassword}))).To(Succeed())
	gw := minimalGateway(ns, "acme")
	gw.Spec.Deploy = true
	gw.Spec.Runner.Replicas = ptr.To(replicas)
	gw.Spec.Connection.ServiceURL = srv.URL
	gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
	if opts.gateway != nil {
		opts.gateway(ns, gw)
	}
	f := &fleet{key: create(gw), sim: sim, opts: opts, active: map[int]*fleetRunner{}}
	f.sa = runnerStatefulSet(f.key).Spec.Template.Spec.ServiceAccountName
	Expect(f.sa).NotTo(BeEmpty())
	var name string
	Eventually(func(g Gomega) {
		name = getGateway(g, f.key).Status.EscalationTokenSecretName
		g.Expect(name).NotTo(BeEmpty())
	}).Should(Succeed())
	token := &corev1.Secret{}
	Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, token)
	}).Should(Succeed())
	f.token = string(token.Data["token"])
	Expect(f.token).NotTo(BeEmpty())
	DeferCleanup(f.stopAll)
	return f
}

// gateway reads the fleet's gateway.
func (f *fleet) gateway(g Gomega) *chatv1alpha1.GenesysGateway { return getGateway(g, f.key) }

// start runs a new process of runner ordinal k.
func (f *fleet) start(k int) *fleetRunner {
	GinkgoHelper()
	gw := f.gateway(Default)
	cut := &cuttable{}
	rc := rest.CopyConfig(cfg)
	rc.Impersonate = rest.ImpersonationConfig{UserName: fmt.Sprintf("system:serviceaccount:%s:%s", f.key.Namespace, f.sa)}
	rc.WrapTransport = cut.wrap
	runCtx, cancel := context.WithCancel(ctx)
	r := &fleetRunner{
		ordinal: k, pod: gateway.RunnerPodName(gw, k), cut: cut, cancel: cancel,
		done: make(chan error, 1), logs: &syncBuffer{},
	}
	addrs := distinctFreeAddrs(3)
	r.api, r.health, r.metrics = "http://"+addrs[0], "http://"+addrs[1], "http://"+addrs[2]
	log := zap.New(zap.WriteTo(r.logs), zap.UseDevMode(true)).WithName(r.pod)
	opts := chatrunner.Options{
		Gateway: f.key, PodName: r.pod,
		HTTPAddr: addrs[0], HealthAddr: addrs[1], MetricsAddr: addrs[2],
		Config:        rc,
		Resolve:       f.resolve,
		LeaseDuration: fleetLeaseDuration, RenewDeadline: fleetRenewDeadline, RetryPeriod: fleetRetryPeriod,
		ProbeInterval: f.opts.probeInterval, ProbeRetry: f.opts.probeRetry,
	}
	f.mu.Lock()
	f.active[k] = r
	f.mu.Unlock()
	go func() { r.done <- chatrunner.Run(logr.NewContext(runCtx, log), opts) }()
	return r
}

// distinctFreeAddrs returns n free loopback addresses, all different: freeAddr may hand
// out a port again once its listener closed, and a runner whose health and metrics
// endpoints got the same one would not start.
func distinctFreeAddrs(n int) []string {
	GinkgoHelper()
	var out []string
	for len(out) < n {
		if a := freeAddr(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// startReady starts runner ordinal k and waits for its readiness: it holds its own store.
func (f *fleet) startReady(k int) *fleetRunner {
	GinkgoHelper()
	r := f.start(k)
	Eventually(func() (int, error) { return httpStatus(r.health + "/readyz") }).Should(Equal(http.StatusOK), "runner %d ready", k)
	return r
}

// resolve is every runner's Resolve: the current process of an ordinal.
func (f *fleet) resolve(k int) (*url.URL, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.active[k]
	if r == nil {
		return nil, fmt.Errorf("runner %d does not run", k)
	}
	return url.Parse(r.api)
}

// rollOut marks the runner StatefulSet rolled out with n replicas and waits for Ready.
func (f *fleet) rollOut(n int32) {
	GinkgoHelper()
	f.markRolledOut(n)
	expectReady(f.key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)
}

// markRolledOut marks the runner StatefulSet rolled out with n replicas, as the
// StatefulSet controller and the kubelet would: Ready then says what Genesys answers.
func (f *fleet) markRolledOut(n int32) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sts := &appsv1.StatefulSet{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: f.key.Namespace, Name: f.key.Name + "-runner"}, sts); err != nil {
			return err
		}
		sts.Status = appsv1.StatefulSetStatus{
			ObservedGeneration: sts.Generation, Replicas: n, ReadyReplicas: n,
			CurrentReplicas: n, UpdatedReplicas: n, AvailableReplicas: n,
		}
		return k8sClient.Status().Update(ctx, sts)
	})).To(Succeed())
}

// stopGracefully cancels a runner as the kubelet's SIGTERM would: it must hand its
// stores over and return nil.
func (f *fleet) stopGracefully(r *fleetRunner) {
	GinkgoHelper()
	r.cancel()
	var err error
	Eventually(r.done).WithTimeout(15*time.Second).Should(Receive(&err), "runner %d stops", r.ordinal)
	Expect(err).NotTo(HaveOccurred(), "runner %d stops cleanly", r.ordinal)
	f.forget(r)
}

// kill stops a runner as a crash would: nothing it does from now on reaches the API
// server (no final write, no Lease release), then it stops. It may take a while to give
// up its final write; nobody waits for it.
func (f *fleet) kill(r *fleetRunner) {
	r.cut.cutNow()
	r.cancel()
	f.forget(r)
}

// partition cuts a runner off the API server and keeps it running.
func (f *fleet) partition(r *fleetRunner) { r.cut.cutNow() }

func (f *fleet) forget(r *fleetRunner) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active[r.ordinal] == r {
		delete(f.active, r.ordinal)
	}
}

// stopAll stops the runners left when a spec ends, gracefully unless cut off.
func (f *fleet) stopAll() {
	f.mu.Lock()
	var rs []*fleetRunner
	for _, r := range f.active {
		rs = append(rs, r)
	}
	f.mu.Unlock()
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		if !r.cut.isCut() {
			Eventually(r.done).WithTimeout(15*time.Second).Should(Receive(BeNil()), "runner %d stops cleanly", r.ordinal)
		}
	}
}

// bot is a bot client of the escalation API through a runner.
func (f *fleet) bot(r *fleetRunner) *escalation.Client {
	return escalation.NewClient(r.api, f.token, nil)
}

// escalate escalates a conversation through a runner and returns the new chat.
func (f *fleet) escalate(r *fleetRunner, conversation string) escalation.Chat {
	GinkgoHelper()
	var c escalation.Chat
	Eventually(func() error {
		var created bool
		var err error
		c, created, err = f.bot(r).Escalate(ctx, escalation.Request{
			ConversationID: conversation, Domain: "acme", User: escalation.User{FirstName: "Jane", LastName: "Doe"},
		})
		if err == nil && !created {
			return StopTrying("the conversation had a chat already")
		}
		return err
	}).Should(Succeed())
	return c
}

// genesysChat waits for a chat's Genesys id and for its record with the session in its
// store: the chat can be resumed from now on.
func (f *fleet) genesysChat(r *fleetRunner, id string) string {
	GinkgoHelper()
	var gid string
	Eventually(func(g Gomega) {
		c, err := f.bot(r).Chat(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(c.GenesysChatID).NotTo(BeEmpty())
		gid = c.GenesysChatID
		rec, ok := f.record(g, id)
		g.Expect(ok).To(BeTrue(), "the chat's record is stored")
		g.Expect(rec.Session.ChatID).To(Equal(gid), "the record holds the session")
	}).WithTimeout(chatTimeout).Should(Succeed())
	return gid
}

// record reads a chat's record from the store shards of its gateway.
func (f *fleet) record(g Gomega, id string) (chatstore.Record, bool) {
	var list corev1.SecretList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(f.key.Namespace),
		client.MatchingLabels{chatstore.LabelStore: chatstore.StoreValue})).To(Succeed())
	for _, s := range list.Items {
		if b, ok := s.Data[id]; ok {
			rec, err := chatstore.Decode(b)
			g.Expect(err).NotTo(HaveOccurred())
			return rec, true
		}
	}
	return chatstore.Record{}, false
}

// leaseHolder reads the holder of an ordinal's store Lease ("" when vacant).
func (f *fleet) leaseHolder(g Gomega, k int) string {
	l := &coordinationv1.Lease{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.key.Namespace, Name: fmt.Sprintf("%s-chats-%d", f.key.Name, k)}, l)).To(Succeed())
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

// runnerStatus returns a runner's status entry.
func (f *fleet) runnerStatus(g Gomega, r *fleetRunner) chatv1alpha1.RunnerStatus {
	for _, st := range f.gateway(g).Status.Runners {
		if st.Pod == r.pod {
			return st
		}
	}
	g.Expect(r.pod).To(BeEmpty(), "no status entry for the runner")
	return chatv1alpha1.RunnerStatus{}
}

// ownerOf is the runner ordinal the router hashes a conversation id onto, of n runners
// (fnv-32a modulo n, as the router does).
func ownerOf(conversation string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(conversation))
	return int(h.Sum32() % uint32(n))
}

// conversationOn returns a conversation id that the router hashes onto ordinal k of n.
func conversationOn(prefix string, k, n int) string {
	return conversationWhere(prefix, func(id string) bool { return ownerOf(id, n) == k })
}

// conversationWhere returns the first conversation id prefix-0, prefix-1, ... that ok
// accepts.
func conversationWhere(prefix string, ok func(string) bool) string {
	for i := 0; ; i++ {
		if id := fmt.Sprintf("%s-%d", prefix, i); ok(id) {
			return id
		}
	}
}

// botEvents reads a chat's events from seq 1 through a runner; none while refused.
func (f *fleet) botEvents(r *fleetRunner, id string) []escalation.Event {
	page, err := f.bot(r).Events(ctx, id, 0, 0)
	if err != nil {
		return nil
	}
	return page.Events
}

// agentTalk plays an agent who sends "agent 1" ... "agent n" every 100 ms. It returns a
// channel closed after the last message.
func agentTalk(sim *gmssim.Simulator, genesysID string, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 1; i <= n; i++ {
			<-t.C
			Expect(sim.AgentMessage(genesysID, fmt.Sprintf("agent %d", i))).To(Succeed())
		}
	}()
	return done
}

// reader is a bot reading a chat's events by seq through one runner, at least once each
// (it retries refused calls, as a bot would while a chat is handed over), keeping each
// event as answered.
type reader struct {
	mu     sync.Mutex
	events []escalation.Event
	stop   context.CancelFunc
	done   chan struct{}
}

// readEvents starts reading a chat's events from seq 1 through a base URL.
func (f *fleet) readEvents(base func() string, id string) *reader {
	rctx, stop := context.WithCancel(ctx)
	rd := &reader{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		var after int64
		for rctx.Err() == nil {
			page, err := escalation.NewClient(base(), f.token, nil).Events(rctx, id, after, 500*time.Millisecond)
			if err != nil {
				select {
				case <-rctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			rd.mu.Lock()
			rd.events = append(rd.events, page.Events...)
			rd.mu.Unlock()
			after = page.Next
		}
	}()
	DeferCleanup(func() { rd.stop(); <-rd.done })
	return rd
}

// all returns the events read so far.
func (rd *reader) all() []escalation.Event {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return append([]escalation.Event(nil), rd.events...)
}

// agentTexts returns the texts of the agent messages read, in order.
func agentTexts(evs []escalation.Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == escalation.EventMessage {
			out = append(out, e.Text)
		}
	}
	return out
}

// numbered is "agent 1" ... "agent n".
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "agent " + strconv.Itoa(i+1)
	}
	return out
}

// expectExactlyOnce waits until the bot read every agent message, then checks it read each
// once, in order, and that the seqs it was given are 1..n without gap nor duplicate.
func expectExactlyOnce(rd *reader, n int) {
	GinkgoHelper()
	Eventually(func() []string { return agentTexts(rd.all()) }).WithTimeout(chatTimeout).Should(HaveLen(n))
	evs := rd.all()
	Expect(agentTexts(evs)).To(Equal(numbered(n)), "every agent message once, in order")
	for i, e := range evs {
		Expect(e.Seq).To(Equal(int64(i+1)), "seq %d of %d: %+v", i+1, len(evs), e)
	}
}

// cuttable is a client-go transport wrapper that fails every request once cut, and cuts
// the requests under way (watches included): the process is dead or partitioned.
type cuttable struct {
	cut     atomic.Bool
	mu      sync.Mutex
	pending map[*context.CancelFunc]struct{}
}

var errCut = errors.New("test: the runner is cut off the API server")

func (c *cuttable) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if c.cut.Load() {
			return nil, errCut
		}
		rctx, cancel := context.WithCancel(req.Context())
		c.mu.Lock()
		if c.pending == nil {
			c.pending = map[*context.CancelFunc]struct{}{}
		}
		c.pending[&cancel] = struct{}{}
		c.mu.Unlock()
		done := func() {
			c.mu.Lock()
			delete(c.pending, &cancel)
			c.mu.Unlock()
			cancel()
		}
		resp, err := rt.RoundTrip(req.WithContext(rctx))
		if err != nil {
			done()
			return nil, err
		}
		resp.Body = &cutBody{ReadCloser: resp.Body, c: c, done: done}
		return resp, nil
	})
}

// cutNow cuts the transport and the requests under way.
func (c *cuttable) cutNow() {
	c.cut.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	for cancel := range c.pending {
		(*cancel)()
	}
}

func (c *cuttable) isCut() bool { return c.cut.Load() }

type cutBody struct {
	io.ReadCloser
	c    *cuttable
	done func()
	once sync.Once
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.c.cut.Load() {
		return 0, errCut
	}
	return b.ReadCloser.Read(p)
}

func (b *cutBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// refreshCount reads a runner's count of GMS Refresh calls from its metrics endpoint.
func refreshCount(r *fleetRunner) (int, error) {
	resp, err := http.Get(r.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	m := refreshCountPattern.FindSubmatch(b)
	if m == nil {
		return 0, nil
	}
	return strconv.Atoi(string(m[1]))
}

var refreshCountPattern = regexp.MustCompile(`(?m)^genesys_chatrunner_gms_request_duration_seconds_count\{[^}]*operation="refresh"[^}]*\} (\d+)$`)

// apiOf returns the API base URL of ordinal k's current process; a closed port while
// none runs.
func (f *fleet) apiOf(k int) func() string {
	return func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r := f.active[k]; r != nil {
			return r.api
		}
		return "http://127.0.0.1:1"
	}
}

// escalateAgain escalates a conversation again through a runner and expects its existing
// chat (200, not 201).
func (f *fleet) escalateAgain(r *fleetRunner, conversation, id string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		c, created, err := f.bot(r).Escalate(ctx, escalation.Request{
			ConversationID: conversation, Domain: "acme", User: escalation.User{FirstName: "Jane", LastName: "Doe"},
		})
		g.Expect(err).NotTo(HaveOccurred(), "through %s", r.pod)
		if created || c.ID != id {
			StopTrying(fmt.Sprintf("escalating %s again opened chat %s (created %v) instead of answering %s", conversation, c.ID, created, id)).Now()
		}
	}).WithTimeout(chatTimeout).Should(Succeed())
}

// scaledTo waits for the operator to scale the runner StatefulSet to n replicas.
func (f *fleet) scaledTo(n int32) {
	GinkgoHelper()
	Eventually(func(g Gomega) *int32 {
		sts := &appsv1.StatefulSet{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.key.Namespace, Name: f.key.Name + "-runner"}, sts)).To(Succeed())
		return sts.Spec.Replicas
	}).Should(HaveValue(Equal(n)))
}
