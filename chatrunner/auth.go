package chatrunner

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// authenticator authorizes every Chat API call the way the gateway says at that moment:
// HTTP Basic from its Secret, an Entra ID bearer token obtained with its certificate, or
// nothing. Credentials are read from the live snapshot, so a rotation applies to the next
// call and no chat is dropped.
type authenticator struct {
	// current is the gateway's latest snapshot: the live watcher's Current.
	current   func() *live.Snapshot
	transport http.RoundTripper
	log       logr.Logger
	// changed is signalled when the token's health changes, for the status.
	changed chan struct{}

	mu     sync.Mutex
	source *entra.Source
	keeper *entra.Keeper
	stop   context.CancelFunc
}

// newAuthenticator returns an authenticator of the snapshots current returns (a
// live.Watcher's Current), whose Entra ID token requests go through transport.
func newAuthenticator(current func() *live.Snapshot, transport http.RoundTripper, log logr.Logger) *authenticator {
	return &authenticator{current: current, transport: transport, log: log, changed: make(chan struct{}, 1)}
}

// Authorize sets the credentials of the gateway's current authentication.
func (a *authenticator) Authorize(ctx context.Context, req *http.Request) error {
	snap := a.current()
	conn := snap.Gateway.Spec.Connection
	switch {
	case conn.BasicAuth != nil:
		return basicAuth(snap, string(conn.BasicAuth.SecretRef.Name)).Authorize(ctx, req)
	case conn.MicrosoftClientCredentials != nil:
		a.mu.Lock()
		k := a.keeper
		a.mu.Unlock()
		if k == nil {
			return fmt.Errorf("no usable Entra ID certificate yet: %w", gms.ErrCredentialsUnavailable)
		}
		return k.Authorizer().Authorize(ctx, req)
	}
	return nil
}

// basicAuth is HTTP Basic with the username and password of a Secret of the snapshot. It
// goes through gms.BasicAuth, the one implementation of Basic auth, so that the runner
// refuses what it refuses (an empty username, or one with a colon, which RFC 7617 forbids)
// before a request leaves. The snapshot is the one the call started with: a rotation
// applies to the next call. Errors name the Secret and the key, never a value.
func basicAuth(snap *live.Snapshot, secret string) gms.Authorizer {
	return gms.BasicAuth(func() (string, string, error) {
		user, err := snap.SecretKey(secret, gateway.KeyUsername)
		if err != nil {
			return "", "", err
		}
		password, err := snap.SecretKey(secret, gateway.KeyPassword)
		if err != nil {
			return "", "", err
		}
		return string(user), string(password), nil
	})
}

// update follows the snapshot: it starts, reconfigures or stops the Entra ID token keeper.
// A certificate that does not parse keeps the previous one and is returned.
func (a *authenticator) update(ctx context.Context, snap *live.Snapshot) error {
	m := snap.Gateway.Spec.Connection.MicrosoftClientCredentials
	a.mu.Lock()
	defer a.mu.Unlock()
	if m == nil {
		if a.stop != nil {
			a.stop()
			a.source, a.keeper, a.stop = nil, nil, nil
		}
		return nil
	}
	cert, err := certificateOf(snap)
	if err != nil {
		return err
	}
	cfg := entra.Config{
		Authority:  m.Authority,
		ClientID:   m.ClientID,
		Scope:      m.Scope,
		Timeout:    time.Duration(m.TokenTimeoutSeconds) * time.Second,
		HTTPClient: &http.Client{Transport: a.transport},
	}
	if a.source != nil {
		return a.source.Update(cfg, cert)
	}
	src, err := entra.NewSource(cfg, cert)
	if err != nil {
		return err
	}
	kctx, stop := context.WithCancel(ctx)
	a.source, a.stop = src, stop
	a.keeper = entra.NewKeeper(src, entra.KeeperOptions{OnHealthChange: func(ok bool, err error) {
		if ok {
			a.log.Info("Obtained an Entra ID token")
		} else {
			a.log.Info("Failed to obtain an Entra ID token", "error", err.Error())
		}
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}})
	go a.keeper.Run(kctx)
	return nil
}

// authError is the token keeper's current failure, empty when it has a token (or there is
// no token auth).
func (a *authenticator) authError() string {
	a.mu.Lock()
	k := a.keeper
	a.mu.Unlock()
	if k == nil {
		return ""
	}
	if ok, _, err := k.Healthy(); !ok && err != nil {
		return err.Error()
	}
	return ""
}

// certificateOf parses the gateway's Entra ID certificate and key.
func certificateOf(snap *live.Snapshot) (*credentials.Certificate, error) {
	m := snap.Gateway.Spec.Connection.MicrosoftClientCredentials
	name := string(m.CertificateSecretRef.Name)
	crt, err := snap.SecretKey(name, gateway.KeyTLSCertificate)
	if err != nil {
		return nil, err
	}
	key, _ := snap.SecretKey(name, gateway.KeyTLSKey) // optional: one PEM bundle in tls.crt
	var password []byte
	if p := m.PrivateKeyPasswordSecretRef; p != nil {
		if password, err = snap.SecretKey(string(p.Name), gateway.KeyPassword); err != nil {
			return nil, err
		}
	}
	cert, err := credentials.ParseCertificate(crt, key, password, time.Now())
	if err != nil {
		return nil, fmt.Errorf("Secret %q: %w", name, err)
	}
	return cert, nil
}
