package chatrunner

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
)

// tlsTransport carries the runner's calls to GMS and to the token authority. It trusts
// the system's CAs plus the gateway's CA bundle, presents the gateway's client
// certificate, and never goes below TLS 1.2 or skips verification. When the bundle or the
// certificate changes it swaps in a new transport: calls in flight finish on the old one,
// the next ones use the new one, and no chat notices.
type tlsTransport struct {
	current atomic.Pointer[http.Transport]

	mu sync.Mutex
	// inputs are the resource versions of the objects the current transport was built
	// from.
	inputs string
}

func newTLSTransport() *tlsTransport {
	t := &tlsTransport{}
	t.current.Store(gms.NewTransport())
	return t
}

// RoundTrip sends a request on the current transport.
func (t *tlsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.current.Load().RoundTrip(req)
}

// update rebuilds the transport when the TLS inputs of the snapshot changed. On an error
// the previous transport stays.
func (t *tlsTransport) update(snap *live.Snapshot) error {
	refs := tlsReferences(snap)
	inputs := versionsOf(snap, refs)
	t.mu.Lock()
	defer t.mu.Unlock()
	if inputs == t.inputs {
		return nil
	}
	cfg, err := tlsConfig(snap)
	if err != nil {
		return err
	}
	next := gms.NewTransport()
	next.TLSClientConfig = cfg
	old := t.current.Swap(next)
	old.CloseIdleConnections()
	t.inputs = inputs
	return nil
}

// tlsReferences are the references of spec.connection.tls.
func tlsReferences(snap *live.Snapshot) []render.Reference {
	var refs []render.Reference
	for _, r := range render.References(snap.Gateway) {
		if strings.HasPrefix(r.Field, "spec.connection.tls.") {
			refs = append(refs, r)
		}
	}
	return refs
}

// versionsOf identifies the versions of some referenced objects.
func versionsOf(snap *live.Snapshot, refs []render.Reference) string {
	rvs := snap.ResourceVersions()
	var b strings.Builder
	for _, r := range refs {
		fmt.Fprintf(&b, "%s=%s;", r.Field, rvs[r.Kind+"/"+r.Name])
	}
	return b.String()
}

// tlsConfig builds the TLS configuration of a snapshot's gateway.
func tlsConfig(snap *live.Snapshot) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	spec := snap.Gateway.Spec.Connection.TLS
	if spec == nil {
		return cfg, nil
	}
	if b := spec.CABundle; b != nil {
		pemData, err := bundleOf(snap, b.Kind, string(b.Name), b.Key)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%s %q key %q holds no PEM certificate", b.Kind, b.Name, b.Key)
		}
		cfg.RootCAs = pool
	}
	if ref := spec.ClientCertificateSecretRef; ref != nil {
		crt, err := snap.SecretKey(string(ref.Name), "tls.crt")
		if err != nil {
			return nil, err
		}
		key, err := snap.SecretKey(string(ref.Name), "tls.key")
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			return nil, fmt.Errorf("Secret %q does not hold a usable client certificate and key", ref.Name)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// bundleOf reads a CA bundle from a ConfigMap or a Secret.
func bundleOf(snap *live.Snapshot, kind, name, key string) ([]byte, error) {
	if kind == "Secret" {
		return snap.SecretKey(name, key)
	}
	s, err := snap.ConfigMapKey(name, key)
	return []byte(s), err
}
