package gms

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// Observer is a metrics hook of the client. Its methods are called from the calling
// goroutines and must be quick and safe for concurrent use.
type Observer interface {
	// Called reports an attempt of op that took d; err is nil on success, otherwise the
	// attempt's *Error.
	Called(op Operation, d time.Duration, err error)
	// Retried reports that op failed and is about to wait before another attempt.
	Retried(op Operation)
}

// Options configure a new Client.
type Options struct {
	// Settings are the initial settings.
	Settings Settings
	// Auth authenticates every attempt; nil for none.
	Auth Authorizer
	// Clock times the waits between attempts and the attempts' durations; clock.RealClock{}
	// when nil.
	Clock clock.WithTicker
	// Observer receives metrics; nil for none.
	Observer Observer
	// Transport sends the requests; a transport tuned for many concurrent chats when nil
	// (see NewTransport).
	Transport http.RoundTripper
	// Fast sends Refresh Chat (see fast.go); when nil, a client of NewFastClient if
	// Transport is nil too, otherwise none: every call then goes through Transport.
	Fast FastTransport
}

// Client calls the Chat API of one gateway. It is safe for concurrent use; its settings
// can be replaced live with Configure.
type Client struct {
	http *http.Client
	// fast carries Refresh Chat when set (fast.go).
	fast FastTransport
	// jar is http's cookie jar, which fast consults too.
	jar      *lazyJar
	auth     Authorizer
	clock    clock.WithTicker
	observer Observer
	cfg      atomic.Pointer[config]
}

// MaxIdleConnsPerHost is how many connections to GMS NewTransport keeps: the engine never
// runs more polls at once, so that its polls never dial a connection each.
const MaxIdleConnsPerHost = 2048

// Transport tuning: one runner carries thousands of chats on one gateway, each polling
// every second or so.
const (
	maxIdleConns    = 4096
	idleConnTimeout = 90 * time.Second
)

// NewTransport returns the transport a Client uses by default: proxy from the environment,
// keep-alive pooling sized for thousands of concurrent chats on one host, TLS 1.2 or later.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment // also decides config.fast
	t.MaxIdleConns = maxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.IdleConnTimeout = idleConnTimeout
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return t
}

// New returns the client of one gateway. It validates the settings: the service URL must
// be an absolute http or https URL and the service name must not be empty. The client keeps
// a cookie jar, for load balancers that pin a session with a cookie; it is consulted only
// for a host that set a cookie (lazyJar).
func New(opts Options) (*Client, error) {
	cfg, err := newConfig(opts.Settings)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("gms: cookie jar: %w", err)
	}
	transport, fast := opts.Transport, opts.Fast
	if transport == nil {
		transport = NewTransport()
		if fast == nil {
			fast = FixedFast{NewFastClient(nil)}
		}
	}
	lazy := newLazyJar(jar)
	c := &Client{
		http: &http.Client{
			Transport: transport,
			Jar:       lazy,
			// A redirect of a POST would turn it into a GET without the form (301, 302,
			// 303) or resend the session triple elsewhere: the answer is taken as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		fast:     fast,
		jar:      lazy,
		auth:     opts.Auth,
		clock:    opts.Clock,
		observer: opts.Observer,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	c.cfg.Store(cfg)
	return c, nil
}

// Configure replaces the client's settings, safely while calls run: calls in flight finish
// with the settings they started with, the next call uses the new ones. Invalid settings
// are refused and the current ones kept.
func (c *Client) Configure(s Settings) error {
	cfg, err := newConfig(s)
	if err != nil {
		return err
	}
	c.cfg.Store(cfg)
	return nil
}

// Settings returns a copy of the client's current settings.
func (c *Client) Settings() Settings {
	return c.cfg.Load().settings.clone()
}

// errNoSession is a session call without a session.
var errNoSession = errors.New("no session")
