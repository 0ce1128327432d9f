// Package chattest starts a chat engine against the GMS simulator on loopback, in real
// time with short intervals, for the tests of the engine and of what serves it.
package chattest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// Env is a running engine and its simulator.
type Env struct {
	Sim     *gmssim.Simulator
	Client  *gms.Client
	Manager *chat.Manager
	// URL is the simulator's base URL.
	URL string
	// Stop stops the engine as a crash would: its context ends, nothing is released or
	// written. Safe to call more than once.
	Stop func()
}

// Settings are fast engine settings for tests: domain acme, 20 ms polls, 3 agents of 10
// chats.
func Settings() chat.Settings {
	return chat.Settings{
		Domain:                "acme",
		PollInterval:          20 * time.Millisecond,
		EscalationTimeout:     time.Minute,
		AvailabilityRefresh:   time.Hour,
		Agents:                3,
		MaxChatsPerAgent:      10,
		SupportPresentContent: true,
		AgentOverride:         chatv1alpha1.AgentOverrideAgentNameOnly,
		Locale:                "en-US",
	}
}

// Start runs an engine with settings against a new simulator until the test ends. Its
// Chat API client tries 3 times, 10 ms apart and more.
func Start(t testing.TB, settings chat.Settings, simOpts gmssim.Options, opts chat.Options) *Env {
	t.Helper()
	sim := gmssim.New(simOpts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env := StartOn(t, srv.URL, settings, opts)
	env.Sim = sim
	return env
}

// StartOn runs another engine against the simulator at url: a second runner.
func StartOn(t testing.TB, url string, settings chat.Settings, opts chat.Options) *Env {
	t.Helper()
	client, err := gms.New(gms.Options{Settings: gms.Settings{
		ServiceURL:  url,
		ServiceName: "customer-support",
		Timeout:     2 * time.Second,
		Retry:       gms.RetryPolicy{MaxAttempts: 3, InitialDelay: 10 * time.Millisecond, Multiplier: 2},
	}})
	if err != nil {
		t.Fatalf("creating the GMS client: %v", err)
	}
	opts.GMS, opts.Settings = client, settings
	m := chat.NewManager(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return &Env{Client: client, Manager: m, URL: url, Stop: stop}
}
