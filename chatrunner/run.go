package chatrunner

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/metrics"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/ownership"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/report"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// heartbeat refreshes the runner's status entry (its last poll time) at least this often
// while nothing else changes.
const heartbeat = 30 * time.Second

// Run serves the runner until ctx ends: it watches its gateway, runs the chats, serves the
// escalation API, probes and metrics, and reports into the gateway's status and events.
func Run(ctx context.Context, opts Options) error {
	log := logr.FromContextOrDiscard(ctx).WithValues("gateway", opts.Gateway, "pod", opts.PodName)
	opts.Config = withRateLimits(opts.Config)
	kube, err := client.New(opts.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		return fmt.Errorf("creating the API client: %w", err)
	}

	watcher, err := live.New(live.Options{Config: opts.Config, Gateway: opts.Gateway, Log: log.WithName("live")})
	if err != nil {
		return fmt.Errorf("watching the gateway: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if err := watcher.Run(ctx); err != nil {
			log.Error(err, "Stopped watching the gateway")
		}
	}()
	if err := watcher.WaitForGateway(ctx); err != nil {
		return fmt.Errorf("waiting for gateway %s: %w", opts.Gateway, err)
	}
	tokens := escalationToken(watcher)
	if _, err := tokens(); err != nil {
		return fmt.Errorf("refusing to serve the escalation API without its token: %w", err)
	}
	snap := watcher.Current()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mets := metrics.New(reg, opts.Gateway.String())
	transport := newTLSTransport()
	if err := transport.update(snap); err != nil {
		log.Error(err, "Kept the default TLS settings")
	}
	auth := newAuthenticator(watcher.Current, transport, log.WithName("auth"))
	if err := auth.update(ctx, snap); err != nil {
		log.Error(err, "Cannot use the Entra ID certificate yet")
	}
	gmsClient, err := gms.New(gms.Options{Settings: gmsSettings(snap.Gateway), Auth: auth, Observer: mets, Transport: transport, Fast: transport})
	if err != nil {
		return fmt.Errorf("configuring the Genesys client: %w", err)
	}
	recorder, stopRecorder, err := report.NewRecorder(opts.Config, opts.PodName)
	if err != nil {
		return fmt.Errorf("creating the event recorder: %w", err)
	}
	defer stopRecorder()
	settings, err := engineSettings(snap)
	if err != nil {
		log.Error(err, "Ignored the agent directory")
	}
	self := ordinal(opts.PodName)
	chatEvents := report.NewEvents(recorder, snap.Gateway)
	cust := &custody{events: chatEvents, pod: opts.PodName, self: self, log: log.WithName("custody"),
		gateway: func() *chatv1alpha1.GenesysGateway { return watcher.Current().Gateway }}
	cust.store = store.New(store.Options{Client: kube, Gateway: snap.Gateway, Log: log.WithName("store"), OnLost: cust.lost})
	engine := chat.NewManager(chat.Options{
		GMS:          gmsClient,
		Settings:     settings,
		Log:          log.WithName("chat"),
		Observers:    []chat.Observer{chatEvents, mets},
		IDPrefix:     escalation.ChatIDPrefix(self),
		PollLateness: mets.ObservePollLateness,
		PollDeferred: mets.PollDeferred,
		Store:        cust.store,
		Ordinal:      self,
		ProbeIdle:    opts.ProbeInterval,
		ProbeRetry:   opts.ProbeRetry,
	})
	cust.engine = engine
	clientset, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return fmt.Errorf("creating the API clientset: %w", err)
	}
	cust.leases, err = ownership.New(ownership.Options{
		Client: clientset, Gateway: snap.Gateway, Self: self, Identity: opts.PodName,
		Replicas:      func() int { return int(gateway.Replicas(watcher.Current().Gateway)) },
		Ordinals:      func() []int { return storeOrdinals(watcher.Current().Gateway) },
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod,
		OnAcquired: cust.acquired, OnRelease: cust.release, OnLost: cust.lost,
		Log: log.WithName("leases"),
	})
	if err != nil {
		return fmt.Errorf("configuring the chat store leases: %w", err)
	}
	metrics.RegisterCustody(reg, opts.Gateway.String(), cust.figures)
	metrics.RegisterEngine(reg, opts.Gateway.String(), engine.Status, auth.authError)
	metrics.RegisterPolls(reg, opts.Gateway.String(), engine.PollLoad)

	resolve := opts.Resolve
	if resolve == nil {
		gw := snap.Gateway
		resolve = escalation.PodResolver(gateway.RunnerName(gw), gateway.HeadlessServiceName(gw), gw.Namespace, gateway.HTTPPort)
	}
	var serving *tls.Config
	var forward http.RoundTripper
	if opts.EscalationTLS {
		etls := newEscalationTLS(watcher.Current, log.WithName("tls"))
		if _, _, err := etls.load(); err != nil {
			return fmt.Errorf("refusing to serve the escalation API without its certificate: %w", err)
		}
		serving, forward = etls.serverConfig(), etls
		resolve = overHTTPS(resolve)
	}
	api := escalation.NewHandler(escalation.Options{
		Engine: engine,
		Tokens: tokens,
		Log:    log.WithName("api"),
		Router: &escalation.Router{
			Self:      self,
			Replicas:  func() int { return int(gateway.Replicas(watcher.Current().Gateway)) },
			Holder:    cust.holder,
			Stores:    cust.stores,
			Settled:   cust.settled,
			Resolve:   resolve,
			Transport: forward,
		},
	})
	api = escalation.Instrument(api, metrics.NewAPI(reg, opts.Gateway.String()))
	hooks := webhook.New(webhook.Options{
		Source:    engine.Webhooks(),
		Config:    webhookConfig(watcher.Current),
		Observer:  metrics.NewWebhook(reg, opts.Gateway.String()),
		OnFailing: chatEvents.WebhookFailing,
		Log:       log.WithName("webhook"),
	})
	status := report.NewStatusWriter(report.StatusOptions{
		Client: kube, Gateway: opts.Gateway, Pod: opts.PodName, Log: log.WithName("status"), OnWrite: mets.StatusWritten,
	})

	// The engine and the store outlive ctx: on a graceful stop the runner first stops
	// taking escalations (readyz fails), then gives up each store it owns (final records,
	// then the Lease) for a successor to resume at once, and only then stops them.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return engine.Run(work) })
	g.Go(func() error { return cust.store.Run(work) })
	g.Go(func() error {
		<-ctx.Done()
		engine.Drain()
		return nil
	})
	g.Go(func() error {
		defer stopWork()
		if err := cust.leases.Run(ctx); err != nil {
			return fmt.Errorf("keeping the chat store leases: %w", err)
		}
		return nil
	})
	g.Go(func() error { hooks.Run(ctx); return nil })
	g.Go(func() error { follow(ctx, log, watcher, transport, auth, gmsClient, engine); return nil })
	g.Go(func() error {
		changed := withHeartbeat(ctx, heartbeat, engine.Changed(), auth.changed, hooks.Changed())
		status.Run(ctx, func() chatv1alpha1.RunnerStatus {
			st := engine.Status()
			st.Credentials = credentialVersions(watcher.Current())
			if e := auth.authError(); e != "" {
				st.AuthError = e
			}
			hs := hooks.Stats()
			st.WebhookDelivered, st.WebhookFailed, st.WebhookLastError = hs.Delivered, hs.Failed, hs.LastError
			cust.status(&st)
			mets.SetChats(countStates(st))
			return st
		}, changed)
		return nil
	})
	g.Go(func() error { return serve(ctx, "the escalation API", opts.HTTPAddr, api, serving) })
	g.Go(func() error { return serve(ctx, "health probes", opts.HealthAddr, probes(watcher, tokens, cust), nil) })
	g.Go(func() error {
		return serve(ctx, "metrics", opts.MetricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil)
	})
	log.Info("Started chat runner", "api", opts.HTTPAddr, "apiTLS", opts.EscalationTLS, "health", opts.HealthAddr, "metrics", opts.MetricsAddr)
	err = g.Wait()
	log.Info("Stopped chat runner")
	return err
}

// Client-side rate limits of the runner's API clients (make bench uses them too).
// client-go's defaults (5 requests a second, bursts of 10) cap the chat store at 5 writes a
// second for all its shards: at 10,000 chats (32 shards) a new chat waited longer than its commit timeout for the write
// that makes it durable, and most escalations were refused (make bench). The store writes
// each shard at most about once a second, so 32 shards, the Leases' renewals, the status
// entry and events fit within 50 a second.
const (
	APIQPS   = 50
	APIBurst = 100
)

// withRateLimits returns a copy of cfg with the runner's rate limits, unless cfg sets its
// own.
func withRateLimits(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg.QPS, cfg.Burst = APIQPS, APIBurst
	}
	return cfg
}

// follow applies every change of the gateway and its Secrets to the running client and
// engine: chats keep running.
func follow(ctx context.Context, log logr.Logger, w *live.Watcher, t *tlsTransport, a *authenticator, c *gms.Client, e *chat.Manager) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.Changed():
		}
		snap := w.Current()
		if err := t.update(snap); err != nil {
			log.Error(err, "Kept the previous TLS settings")
		}
		if err := a.update(ctx, snap); err != nil {
			log.Error(err, "Kept the previous Entra ID certificate")
		}
		if err := c.Configure(gmsSettings(snap.Gateway)); err != nil {
			log.Error(err, "Kept the previous Genesys settings")
		}
		settings, err := engineSettings(snap)
		if err != nil {
			log.Error(err, "Ignored the agent directory")
		}
		e.Configure(settings)
		log.V(1).Info("Applied gateway change", "generation", snap.Gateway.Generation)
	}
}

// withHeartbeat forwards the changes of any channel, and a change every period besides.
func withHeartbeat(ctx context.Context, period time.Duration, changes ...<-chan struct{}) <-chan struct{} {
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	for _, ch := range changes {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-ch:
					signal()
				}
			}
		}()
	}
	go func() {
		t := clock.RealClock{}.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				signal()
			}
		}
	}()
	return out
}

// credentialVersions lists the referenced objects the runner has, with the resource
// version of each: what a rotation shows once picked up.
func credentialVersions(snap *live.Snapshot) []chatv1alpha1.CredentialVersion {
	var out []chatv1alpha1.CredentialVersion
	for _, r := range gateway.References(snap.Gateway) {
		if rv, ok := snap.ResourceVersion(r.Kind, r.Name); ok && !slices.ContainsFunc(out, func(c chatv1alpha1.CredentialVersion) bool {
			return c.Kind == string(r.Kind) && c.Name == r.Name
		}) {
			out = append(out, chatv1alpha1.CredentialVersion{Kind: string(r.Kind), Name: r.Name, ResourceVersion: rv})
		}
	}
	return out
}

// countStates counts a status entry's live chats by state (waiting includes requesting).
func countStates(st chatv1alpha1.RunnerStatus) map[chatv1alpha1.ChatState]int {
	return map[chatv1alpha1.ChatState]int{
		chatv1alpha1.ChatWaitingForAgent: int(st.WaitingChats),
		chatv1alpha1.ChatConnected:       int(st.ConnectedChats),
	}
}

// probes serves /healthz (the process runs) and /readyz: the gateway is known, the
// escalation token is there, the runner holds its own chat store (its new chats have
// somewhere durable to go) and it is not stopping. A draining runner leaves the Service
// at once, so new escalations reach the others.
func probes(w *live.Watcher, tokens escalation.TokenSource, cust *custody) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(rw, "ok") })
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		switch {
		case w.Current().Gateway == nil:
			http.Error(rw, "not ready: the gateway is missing", http.StatusServiceUnavailable)
		case func() bool { _, err := tokens(); return err != nil }():
			http.Error(rw, "not ready: the escalation token is missing", http.StatusServiceUnavailable)
		case cust.engine.Draining():
			http.Error(rw, "not ready: stopping, handing chats over", http.StatusServiceUnavailable)
		case !cust.ownsOwn():
			http.Error(rw, "not ready: waiting for this runner's chat store lease", http.StatusServiceUnavailable)
		default:
			_, _ = fmt.Fprintln(rw, "ok")
		}
	})
	return mux
}
