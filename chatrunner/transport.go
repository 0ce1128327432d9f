package chatrunner

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// tlsTransport carries the runner's calls to GMS and to the token authority: on net/http,
// and Refresh Chat on fasthttp (gms.FastTransport). It trusts the system's CAs plus the
// gateway's CA bundle, presents the gateway's client certificate, and never goes below
// TLS 1.2 or skips verification. When the bundle or the certificate changes it swaps in a
// new pair of clients: calls in flight finish on the old ones, the next ones use the new
// ones, and no chat notices.
type tlsTransport struct {
	current atomic.Pointer[transports]

	mu sync.Mutex
	// inputs are the resource versions of the objects the current transport was built
	// from.
	inputs string
}

// transports are the net/http transport and the fasthttp client of one TLS configuration.
type transports struct {
	http *http.Transport
	fast *fasthttp.Client
}

func newTransports(cfg *tls.Config) *transports {
	t := &transports{http: gms.NewTransport(), fast: gms.NewFastClient(cfg)}
	if cfg != nil {
		t.http.TLSClientConfig = cfg
	}
	return t
}

func newTLSTransport() *tlsTransport {
	t := &tlsTransport{}
	t.current.Store(newTransports(nil))
	return t
}

// RoundTrip sends a request on the current transport.
func (t *tlsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.current.Load().http.RoundTrip(req)
}

// FastClient is the current fasthttp client, for Refresh Chat.
func (t *tlsTransport) FastClient() *fasthttp.Client {
	return t.current.Load().fast
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
	cfg, err := tlsConfig(snap, refs)
	if err != nil {
		return err
	}
	old := t.current.Swap(newTransports(cfg))
	old.http.CloseIdleConnections()
	old.fast.CloseIdleConnections()
	t.inputs = inputs
	return nil
}

// tlsReferences are the references of spec.connection.tls.
func tlsReferences(snap *live.Snapshot) []gateway.Reference {
	var refs []gateway.Reference
	for _, r := range gateway.References(snap.Gateway) {
		if r.Field.IsTLS() {
			refs = append(refs, r)
		}
	}
	return refs
}

// versionsOf identifies the versions of some referenced objects.
func versionsOf(snap *live.Snapshot, refs []gateway.Reference) string {
	var b strings.Builder
	for _, r := range refs {
		rv, _ := snap.ResourceVersion(r.Kind, r.Name)
		fmt.Fprintf(&b, "%s=%s;", r.Field, rv)
	}
	return b.String()
}

// tlsConfig builds the TLS configuration of a snapshot's gateway with
// credentials.TLSConfig, the function the operator validates the same material with.
func tlsConfig(snap *live.Snapshot, refs []gateway.Reference) (*tls.Config, error) {
	var material credentials.TLSMaterial
	var caRef, certRef *gateway.Reference
	for i, r := range refs {
		switch r.Field {
		case gateway.FieldCABundle:
			data, err := keyOf(snap, r, r.Keys[0])
			if err != nil {
				return nil, err
			}
			material.CABundle, caRef = data, &refs[i]
		case gateway.FieldClientCertificate:
			crt, err := keyOf(snap, r, gateway.KeyTLSCertificate)
			if err != nil {
				return nil, err
			}
			key, err := keyOf(snap, r, gateway.KeyTLSKey)
			if err != nil {
				return nil, err
			}
			material.ClientCertificate, material.ClientKey, certRef = crt, key, &refs[i]
		}
	}
	cfg, err := credentials.TLSConfig(material, time.Now())
	if err != nil {
		ref := certRef
		var cerr *credentials.Error
		if certRef == nil || errors.As(err, &cerr) && cerr.Reason == credentials.ReasonCABundleInvalid {
			ref = caRef
		}
		return nil, fmt.Errorf("%s %q named by %s: %w", ref.Kind, ref.Name, ref.Field, err)
	}
	return cfg, nil
}

// keyOf reads a key of a referenced Secret or ConfigMap.
func keyOf(snap *live.Snapshot, ref gateway.Reference, key string) ([]byte, error) {
	if ref.Kind == gateway.KindSecret {
		return snap.SecretKey(ref.Name, key)
	}
	s, err := snap.ConfigMapKey(ref.Name, key)
	return []byte(s), err
}
