// Package entra obtains OAuth 2.0 client-credentials bearer tokens from Microsoft Entra ID
// with the Microsoft authentication library for Go (MSAL), authenticating with a
// certificate: the token request carries a client assertion (a JWT) signed with the
// certificate's private key, with the certificate's SHA-256 thumbprint (x5t#S256) and its
// chain (x5c) in the header.
//
// Source wraps an MSAL confidential client: Token asks MSAL, which answers from its
// in-memory cache while the token has more than five minutes left, and from the authority
// otherwise. Update swaps in a new configuration or certificate (Secret rotation) without
// disturbing calls in flight.
//
// Keeper keeps a token ready for the Chat API calls: it fetches one ahead of need, renews
// it before it expires, retries with back-off when the authority cannot be reached or
// refuses, and tells the runner whether it is healthy (Healthy) so that the gateway's
// status can say so. Its Authorizer waits, within the request's deadline, for a token
// rather than failing at once.
//
// MSAL is configured with instance discovery off: MSAL reads the tenant's OpenID
// configuration from the authority itself (<authority>/v2.0/.well-known/openid-configuration)
// and checks that its issuer is on the authority's host, but does not ask
// login.microsoftonline.com to validate the authority. The gateway thus talks to the
// configured authority only (one egress destination, private or test authorities work), and
// trusts it as configured by the cluster administrator.
package entra

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// DefaultTimeout bounds each token request when Config.Timeout is zero (the CRD's
// tokenTimeoutSeconds default).
const DefaultTimeout = 15 * time.Second

// Config says where and as whom to obtain tokens.
type Config struct {
	// Authority is the token authority, e.g. https://login.microsoftonline.com/<tenant>.
	Authority string
	// ClientID is the application (client) ID registered in Entra ID.
	ClientID string
	// Scope is the scope to ask for, e.g. api://gms-proxy/.default.
	Scope string
	// Timeout bounds each token request (tokenTimeoutSeconds); zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient talks to the authority (the caller configures TLS, e.g. a private CA, and
	// proxies); nil means MSAL's default client.
	HTTPClient *http.Client
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.Authority = strings.TrimRight(c.Authority, "/")
	return c
}

func (c Config) validate() error {
	u, err := url.Parse(c.Authority)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return fmt.Errorf("entra: authority %q is not an absolute https URL without credentials", redactURL(c.Authority))
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("entra: authority %q names no tenant; expected e.g. https://login.microsoftonline.com/<tenant-id>", redactURL(c.Authority))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("entra: clientID is empty")
	}
	if strings.TrimSpace(c.Scope) == "" {
		return errors.New("entra: scope is empty")
	}
	return nil
}

// identity is what a token is for: a token of another identity must not be used.
func (c Config) identity() string {
	return c.Authority + "\x00" + c.ClientID + "\x00" + c.Scope
}

// Source obtains tokens for one Config and certificate. It is safe for concurrent use.
type Source struct {
	mu      sync.Mutex
	cur     *client
	changed chan struct{} // closed, and replaced, by each Update that changes the client
}

// client is one MSAL confidential client, with its own token cache. Immutable.
type client struct {
	cfg    Config
	cert   *credentials.Certificate
	app    confidential.Client
	scopes []string
}

// NewSource returns a Source for cfg and cert. It checks both (see credentials.CheckRSA) but
// makes no request: the first Token does.
func NewSource(cfg Config, cert *credentials.Certificate) (*Source, error) {
	c, err := newClient(cfg, cert)
	if err != nil {
		return nil, err
	}
	return &Source{cur: c, changed: make(chan struct{})}, nil
}

func newClient(cfg Config, cert *credentials.Certificate) (*client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := credentials.CheckRSA(cert); err != nil {
		return nil, err
	}
	cred, err := confidential.NewCredFromCert(cert.Chain, cert.Key)
	if err != nil {
		// MSAL's text ("key doesn't match any certificate") has no key material.
		return nil, fmt.Errorf("entra: certificate credential: %w", err)
	}
	opts := []confidential.Option{
		// Send the chain (x5c) so that Entra ID can authenticate by subject name and issuer,
		// and so that certificate rotation needs no re-registration of the thumbprint.
		confidential.WithX5C(),
		// Do not ask login.microsoftonline.com to validate the authority (see the package
		// doc): talk to the configured authority only.
		confidential.WithInstanceDiscovery(false),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, confidential.WithHTTPClient(cfg.HTTPClient))
	}
	app, err := confidential.New(cfg.Authority, cfg.ClientID, cred, opts...)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	return &client{cfg: cfg, cert: cert, app: app, scopes: []string{cfg.Scope}}, nil
}

// current returns the client in use and the channel that Update closes when it replaces it.
func (s *Source) current() (*client, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.changed
}

// Config returns the configuration in use, with defaults applied.
func (s *Source) Config() Config {
	c, _ := s.current()
	return c.cfg
}

// Update replaces the configuration and certificate, e.g. after the Secret rotated. When
// either differs from the one in use, a new MSAL client (with an empty token cache)
// replaces the old one; calls in flight finish with the old one. An invalid cfg or cert
// leaves the Source as it was and returns the error.
func (s *Source) Update(cfg Config, cert *credentials.Certificate) error {
	cur, _ := s.current()
	if sameConfig(cur.cfg, cfg.withDefaults()) && sameCertificate(cur.cert, cert) {
		return nil
	}
	c, err := newClient(cfg, cert)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = c
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func sameConfig(a, b Config) bool {
	return a.Authority == b.Authority && a.ClientID == b.ClientID && a.Scope == b.Scope &&
		a.Timeout == b.Timeout && a.HTTPClient == b.HTTPClient
}

func sameCertificate(a, b *credentials.Certificate) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || len(a.Chain) != len(b.Chain) {
		return false
	}
	for i := range a.Chain {
		if !a.Chain[i].Equal(b.Chain[i]) {
			return false
		}
	}
	k, ok := a.Key.(interface{ Equal(crypto.PrivateKey) bool })
	return ok && k.Equal(b.Key)
}

// Token returns a bearer token and when it expires. MSAL answers from its cache while the
// token has more than five minutes left (and renews it early when the authority said so
// with refresh_in); otherwise it asks the authority, within Config.Timeout. Errors are
// *TokenError.
func (s *Source) Token(ctx context.Context) (string, time.Time, error) {
	r, err := s.fetch(ctx)
	return r.token, r.expiresOn, err
}

// result is one answer of fetch.
type result struct {
	token     string
	expiresOn time.Time
	refreshOn time.Time // when the authority asked for renewal (refresh_in); zero if not
	client    *client
}

func (s *Source) fetch(ctx context.Context) (result, error) {
	c, _ := s.current()
	tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// AcquireTokenByCredential first looks in MSAL's cache (the app-token cache: MSAL Go's
	// AcquireTokenSilent needs an account, which a client-credentials token has none of).
	ar, err := c.app.AcquireTokenByCredential(tctx, c.scopes)
	if err != nil {
		return result{client: c}, c.tokenError(ctx, tctx, err)
	}
	if ar.AccessToken == "" {
		return result{client: c}, &TokenError{ClientID: c.cfg.ClientID, Authority: redactURL(c.cfg.Authority), Cause: "the authority answered without an access token"}
	}
	return result{token: ar.AccessToken, expiresOn: ar.ExpiresOn, refreshOn: ar.Metadata.RefreshOn, client: c}, nil
}

// Authorizer returns an Authorizer that sets "Authorization: Bearer <token>" from Token on
// each call. It fails at once when no token can be had; the runner uses
// Keeper.Authorizer, which waits instead.
func (s *Source) Authorizer() gms.Authorizer {
	return gms.AuthorizerFunc(func(ctx context.Context, req *http.Request) error {
		token, _, err := s.Token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}

// TokenError is a failure to obtain a token. Its text names the client and the authority
// and says why, never with a secret (no assertion, no token, no key). It wraps
// gms.ErrCredentialsUnavailable, so that the Chat API client retries the call, and the
// context error when the request timed out or was canceled.
type TokenError struct {
	ClientID  string
	Authority string // without user info
	// Cause says why, for people.
	Cause string
	// HTTPStatus is the authority's answer, when it answered with an error; 0 otherwise.
	HTTPStatus int
	// Code is the OAuth error code of that answer (e.g. invalid_client), if any.
	Code string
	// Timeout is true when the authority did not answer within Config.Timeout.
	Timeout bool
	ctxErr  error
}

// Error says "obtaining an Entra ID token for client <id> from <authority>: <cause>".
func (e *TokenError) Error() string {
	return fmt.Sprintf("obtaining an Entra ID token for client %s from %s: %s", e.ClientID, e.Authority, e.Cause)
}

// Unwrap returns gms.ErrCredentialsUnavailable and the context error, if any.
func (e *TokenError) Unwrap() []error {
	if e.ctxErr != nil {
		return []error{gms.ErrCredentialsUnavailable, e.ctxErr}
	}
	return []error{gms.ErrCredentialsUnavailable}
}

// tokenError turns an MSAL error into a *TokenError. MSAL's error text for an HTTP error
// holds the URL and the whole answer; its Verbose form holds the request (with the
// client assertion), so it is never used, and the MSAL error is not wrapped.
func (c *client) tokenError(parent, tctx context.Context, err error) error {
	te := &TokenError{ClientID: c.cfg.ClientID, Authority: redactURL(c.cfg.Authority)}
	switch {
	case parent.Err() != nil:
		te.ctxErr = parent.Err()
		te.Cause = "canceled: " + parent.Err().Error()
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		te.ctxErr = context.DeadlineExceeded
		te.Timeout = true
		te.Cause = fmt.Sprintf("no answer within %s (tokenTimeoutSeconds)", c.cfg.Timeout)
	default:
		var ce msalerrors.CallErr
		if errors.As(err, &ce) && ce.Resp != nil {
			te.HTTPStatus = ce.Resp.StatusCode
			te.Code, te.Cause = describeHTTPError(ce)
		} else {
			te.Cause = sanitize(err.Error())
		}
	}
	return te
}

// describeHTTPError summarizes an error answer of the authority: its status, OAuth error
// code and description (e.g. "AADSTS700027: ...").
func describeHTTPError(ce msalerrors.CallErr) (code, cause string) {
	status := ce.Resp.StatusCode
	cause = fmt.Sprintf("the authority answered HTTP %d %s", status, http.StatusText(status))
	if ce.Req != nil && ce.Req.URL != nil {
		cause += " to " + ce.Req.Method + " " + redactURL(ce.Req.URL.String())
	}
	// The error text is "http call(<url>)(<method>) error: reply status code was N:\n<body>".
	_, body, found := strings.Cut(ce.Err.Error(), ":\n")
	if !found {
		return "", cause
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if decodeJSON(body, &e) != nil || e.Error == "" {
		return "", cause + ": " + text.Truncate(sanitize(body), 300)
	}
	cause += ": " + e.Error
	if e.Description != "" {
		// Entra appends "Trace ID: ... Correlation ID: ... Timestamp: ..." lines: keep the
		// first line.
		d, _, _ := strings.Cut(e.Description, "\n")
		d, _, _ = strings.Cut(d, " Trace ID:")
		d = strings.TrimSpace(d)
		cause += ": " + text.Truncate(sanitize(d), 300)
	}
	return e.Error, cause
}

// sanitize keeps error text printable and on one line.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// redactURL drops user info (and query) from a URL for display.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

func decodeJSON(s string, v any) error {
	return json.Unmarshal([]byte(strings.TrimSpace(s)), v)
}
