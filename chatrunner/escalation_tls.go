package chatrunner

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/go-logr/logr"
)

// escalationTLS serves the escalation API over HTTPS with the certificate of the gateway's
// spec.runner.escalationTLS, and carries the calls this runner forwards to its peers over
// HTTPS too (they carry the bearer token). The Secret is read from the live snapshot on
// each handshake and parsed once per version, so a renewed certificate (cert-manager)
// serves from the next connection on, with no restart. Both sides come from
// credentials.TLSConfig: the serving certificate and, for forwarding, the roots the
// Secret's ca.crt names (or the certificate itself when it has none).
type escalationTLS struct {
	current func() *live.Snapshot
	log     logr.Logger

	mu      sync.Mutex
	version string
	cfg     *tls.Config
	forward *http.Transport
	// failed is the version of the Secret that did not parse: not parsed again on every
	// handshake, and logged once.
	failed string
}

func newEscalationTLS(current func() *live.Snapshot, log logr.Logger) *escalationTLS {
	return &escalationTLS{current: current, log: log}
}

// load returns the configuration of the current snapshot's Secret, parsing it when its
// version changed. On an error the previous configuration stays in use, if any.
func (e *escalationTLS) load() (*tls.Config, *http.Transport, error) {
	snap := e.current()
	ref := snap.Gateway.Spec.Runner.EscalationTLS
	if ref == nil {
		return nil, nil, fmt.Errorf("spec.runner.escalationTLS is not set, but the runner was started with --%s", gateway.EscalationTLSFlag)
	}
	name := string(ref.SecretRef.Name)
	rv, _ := snap.ResourceVersion(gateway.KindSecret, name)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg != nil && (rv == e.version || rv == e.failed) {
		return e.cfg, e.forward, nil
	}
	cfg, peers, err := escalationTLSConfig(snap, name)
	if err != nil {
		if e.cfg != nil {
			e.failed = rv
			e.log.Error(err, "Kept the escalation API's previous certificate")
			return e.cfg, e.forward, nil
		}
		return nil, nil, err
	}
	// Peers are trusted with the Secret's roots alone, not the system's, and reached
	// directly, never through an HTTP proxy: the calls carry the bot's token.
	fwd := gms.NewTransport()
	fwd.Proxy = nil
	fwd.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: peers}
	if e.forward != nil {
		e.forward.CloseIdleConnections()
	}
	e.cfg, e.forward, e.version = cfg, fwd, rv
	return cfg, fwd, nil
}

// escalationTLSConfig parses the Secret: tls.crt and tls.key serve; ca.crt, or tls.crt
// itself, is the pool peers are trusted with.
func escalationTLSConfig(snap *live.Snapshot, name string) (*tls.Config, *x509.CertPool, error) {
	crt, err := snap.SecretKey(name, gateway.KeyTLSCertificate)
	if err != nil {
		return nil, nil, err
	}
	key, err := snap.SecretKey(name, gateway.KeyTLSKey)
	if err != nil {
		return nil, nil, err
	}
	ca, _ := snap.SecretKey(name, gateway.KeyCABundle) // optional
	material := credentials.ServingMaterial(crt, key, ca)
	cfg, err := credentials.TLSConfig(material, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("Secret %q named by %s: %w", name, gateway.FieldEscalationTLS, err)
	}
	peers, _, err := credentials.ParseCABundle(material.CABundle)
	if err != nil {
		return nil, nil, fmt.Errorf("Secret %q named by %s: %w", name, gateway.FieldEscalationTLS, err)
	}
	return cfg, peers, nil
}

// serverConfig is the listener's TLS configuration: TLS 1.2 at the least, the certificate
// of the moment.
func (e *escalationTLS) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			cfg, _, err := e.load()
			if err != nil {
				return nil, err
			}
			return &cfg.Certificates[0], nil
		},
	}
}

// RoundTrip forwards a call to a peer runner over HTTPS, trusting the Secret's roots.
func (e *escalationTLS) RoundTrip(req *http.Request) (*http.Response, error) {
	_, fwd, err := e.load()
	if err != nil {
		return nil, err
	}
	return fwd.RoundTrip(req)
}

// overHTTPS makes a resolver's peer URLs HTTPS.
func overHTTPS(resolve func(int) (*url.URL, error)) func(int) (*url.URL, error) {
	return func(ordinal int) (*url.URL, error) {
		u, err := resolve(ordinal)
		if err != nil {
			return nil, err
		}
		https := *u
		https.Scheme = "https"
		return &https, nil
	}
}
