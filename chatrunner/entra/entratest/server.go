// Package entratest is a local stand-in for Microsoft Entra ID's token service, for tests:
// an HTTPS server on loopback that serves a tenant's OpenID configuration and a token
// endpoint which checks client-credentials requests authenticated by a certificate
// (private_key_jwt client assertions, as MSAL sends them) and issues short-lived opaque
// bearer tokens that a GMS simulator can check with Valid.
//
// It also makes client certificates (NewClientCert) in the formats the gateway reads.
package entratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7515).
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of Options.
const (
	DefaultTenant    = "contoso-tenant"
	DefaultClientID  = "11111111-2222-3333-4444-555555555555"
	DefaultScope     = "api://gms-proxy/.default"
	DefaultExpiresIn = time.Hour
)

// Client-assertion constants of RFC 7523 and OAuth.
const (
	grantClientCredentials = "client_credentials"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Options configure a Server. Zero fields take the defaults above.
type Options struct {
	Tenant   string
	ClientID string
	Scope    string
	// ExpiresIn is the lifetime of the tokens issued, in whole seconds (at least 1 s).
	ExpiresIn time.Duration
	// Trusted are the client certificates registered on the application: an assertion
	// must be signed by the key of one of them and name it by thumbprint.
	Trusted []*x509.Certificate
	// AllowMissingX5C accepts assertions without an x5c header; by default x5c is
	// required (the gateway sends it) and must start with the signing certificate.
	AllowMissingX5C bool
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	closed chan struct{}
	once   sync.Once

	mu                sync.Mutex
	opts              Options
	delay             time.Duration
	tokens            map[string]time.Time // issued token → expiry
	issued            []string
	requests          int
	discoveryRequests int
	rejections        []string
	unexpected        []string
	refusedDials      []string
}

// New starts a Server and closes it when t ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a Server; Close stops it.
func Start(opts Options) *Server {
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if opts.ExpiresIn <= 0 {
		opts.ExpiresIn = DefaultExpiresIn
	}
	opts.Trusted = slices.Clone(opts.Trusted)
	s := &Server{opts: opts, closed: make(chan struct{}), tokens: map[string]time.Time{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server, ending delayed answers at once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// URL is the server's base URL, https://127.0.0.1:<port>.
func (s *Server) URL() string { return s.srv.URL }

// Authority is the authority URL to configure: <URL>/<tenant>.
func (s *Server) Authority() string { return s.srv.URL + "/" + s.opts.Tenant }

// TokenEndpoint is the token endpoint's URL, the audience of client assertions.
func (s *Server) TokenEndpoint() string {
	return s.srv.URL + "/" + s.opts.Tenant + "/oauth2/v2.0/token"
}

// ClientID and Scope are what the token endpoint expects.
func (s *Server) ClientID() string { return s.opts.ClientID }

// Scope is the scope the token endpoint expects.
func (s *Server) Scope() string { return s.opts.Scope }

// CAPool holds the server's certificate, for a client's RootCAs.
func (s *Server) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return pool
}

// CAPEM is the server's certificate in PEM, for a CA bundle that makes a client trust it.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Client returns an HTTP client that trusts the server and can reach nothing else: any
// other address is refused (and recorded, see RefusedDials), so that a test proves that
// nothing leaves loopback.
func (s *Server) Client() *http.Client {
	addr := s.srv.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CAPool(), MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a != addr {
				s.mu.Lock()
				s.refusedDials = append(s.refusedDials, a)
				s.mu.Unlock()
				return nil, fmt.Errorf("entratest: refused to dial %s: only the stand-in at %s is reachable", a, addr)
			}
			return dialer.DialContext(ctx, network, a)
		},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Transport: tr}
}

// SetDelay delays every answer of the token endpoint by d (0: none).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetTrusted replaces the registered client certificates.
func (s *Server) SetTrusted(certs ...*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Trusted = slices.Clone(certs)
}

// SetExpiresIn sets the lifetime of the tokens issued from now on.
func (s *Server) SetExpiresIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ExpiresIn = d
}

// Requests is the number of requests to the token endpoint, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// DiscoveryRequests is the number of requests for the OpenID configuration.
func (s *Server) DiscoveryRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.discoveryRequests
}

// Tokens are the tokens issued, oldest first.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// Rejections are the error descriptions of the refused token requests, oldest first.
func (s *Server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejections)
}

// Unexpected are the requests (method and path) to paths the stand-in does not serve.
func (s *Server) Unexpected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unexpected)
}

// RefusedDials are the addresses that a Client was asked to reach other than the server.
func (s *Server) RefusedDials() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refusedDials)
}

// Valid reports whether token was issued by this server and has not expired: what a GMS
// simulator checks of a bearer token.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	return ok && time.Now().Before(exp)
}

// ValidBearer reports whether an Authorization header value is "Bearer <valid token>".
func (s *Server) ValidBearer(authorization string) bool {
	scheme, token, ok := strings.Cut(authorization, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && s.Valid(token)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !strings.EqualFold(tenant, s.opts.Tenant) {
		s.notFound(w, r)
		return
	}
	switch {
	case rest == "v2.0/.well-known/openid-configuration" && r.Method == http.MethodGet:
		s.discovery(w)
	case rest == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		s.token(w, r)
	default:
		s.notFound(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.unexpected = append(s.unexpected, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	http.NotFound(w, r)
}

func (s *Server) discovery(w http.ResponseWriter) {
	s.mu.Lock()
	s.discoveryRequests++
	s.mu.Unlock()
	base := s.srv.URL + "/" + s.opts.Tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// oauthError is an error answer, Entra style.
type oauthError struct {
	status int
	code   string // OAuth error, e.g. invalid_client
	aadsts int
	text   string
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	opts := s.opts
	opts.Trusted = slices.Clone(s.opts.Trusted)
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			return
		}
	}

	if oe := s.check(r, opts); oe != nil {
		s.mu.Lock()
		s.rejections = append(s.rejections, fmt.Sprintf("AADSTS%d: %s", oe.aadsts, oe.text))
		s.mu.Unlock()
		traceID := randomString(8)
		writeJSON(w, oe.status, map[string]any{
			"error":             oe.code,
			"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", oe.aadsts, oe.text, traceID, randomString(8), time.Now().UTC().Format("2006-01-02 15:04:05Z")),
			"error_codes":       []int{oe.aadsts},
			"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
			"trace_id":          traceID,
			"error_uri":         s.srv.URL + "/error?code=" + fmt.Sprint(oe.aadsts),
		})
		return
	}

	token := randomString(32)
	secs := max(int(opts.ExpiresIn/time.Second), 1)
	s.mu.Lock()
	s.tokens[token] = time.Now().Add(time.Duration(secs) * time.Second)
	s.issued = append(s.issued, token)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   token,
	})
}

// check verifies a client-credentials request authenticated by a client assertion.
func (s *Server) check(r *http.Request, opts Options) *oauthError {
	if err := r.ParseForm(); err != nil {
		return &oauthError{http.StatusBadRequest, "invalid_request", 900144, "The request body must be form-encoded."}
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != grantClientCredentials {
		return &oauthError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type %q; expected client_credentials.", g)}
	}
	if c := f.Get("client_id"); c != opts.ClientID {
		return &oauthError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", c)}
	}
	if !slices.Contains(strings.Fields(f.Get("scope")), opts.Scope) {
		return &oauthError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %q is not valid; expected %q.", f.Get("scope"), opts.Scope)}
	}
	if f.Get("client_secret") != "" {
		return &oauthError{http.StatusUnauthorized, "invalid_client", 7000215, "Client secrets are not accepted for this application; use a certificate."}
	}
	if f.Get("client_assertion_type") != assertionTypeJWTBearer {
		return &oauthError{http.StatusBadRequest, "invalid_request", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	return s.checkAssertion(f.Get("client_assertion"), opts)
}

func invalidClient(aadsts int, format string, args ...any) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", aadsts, fmt.Sprintf(format, args...)}
}

// checkAssertion verifies the client assertion: its signature by the key of a trusted
// certificate named by x5t#S256 (PS256) or x5t (RS256), its x5c chain, and its claims.
func (s *Server) checkAssertion(assertion string, opts Options) *oauthError {
	if assertion == "" {
		return invalidClient(50027, "The client assertion is missing.")
	}
	var signer *x509.Certificate
	var headerErr *oauthError
	keyFunc := func(t *jwt.Token) (any, error) {
		signer, headerErr = s.signerOf(t.Header, opts)
		if headerErr != nil {
			return nil, errors.New(headerErr.text)
		}
		return signer.PublicKey, nil
	}
	now := time.Now()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, keyFunc,
		jwt.WithValidMethods([]string{"PS256", "RS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case headerErr != nil:
		return headerErr
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalidClient(700027, "Client assertion failed signature validation.")
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalidClient(700024, "Client assertion is not within its valid time range (%v).", err)
	case err != nil:
		return invalidClient(50027, "JWT token is invalid or malformed (%v).", err)
	}

	if aud, _ := claims.GetAudience(); !slices.Contains(aud, s.TokenEndpoint()) {
		return invalidClient(50013, "Assertion audience claim %q does not match the required value %q.", []string(aud), s.TokenEndpoint())
	}
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	if iss != opts.ClientID || sub != opts.ClientID {
		return invalidClient(700021, "Client assertion application identifier (iss %q, sub %q) doesn't match 'client_id' parameter %q.", iss, sub, opts.ClientID)
	}
	if exp, _ := claims.GetExpirationTime(); exp != nil && exp.After(now.Add(24*time.Hour)) {
		return invalidClient(700024, "Client assertion expires too far in the future.")
	}
	if nbf, _ := claims.GetNotBefore(); nbf == nil {
		return invalidClient(700024, "Client assertion has no nbf claim.")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return invalidClient(50027, "Client assertion has no jti claim.")
	}
	return nil
}

// signerOf finds the trusted certificate an assertion's header names, and checks x5c.
func (s *Server) signerOf(h map[string]any, opts Options) (*x509.Certificate, *oauthError) {
	alg, _ := h["alg"].(string)
	var thumb []byte
	var hash func([]byte) []byte
	switch alg {
	case "PS256":
		thumb = decodeB64(h["x5t#S256"])
		hash = func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
	case "RS256":
		thumb = decodeB64(h["x5t"])
		hash = func(b []byte) []byte { d := sha1.Sum(b); return d[:] } //nolint:gosec // See import.
	default:
		return nil, invalidClient(5002738, "Client assertion algorithm %q is not supported; use PS256 (or RS256 with x5t).", alg)
	}
	if thumb == nil {
		return nil, invalidClient(700027, "Client assertion has no certificate thumbprint (x5t#S256 for PS256, x5t for RS256).")
	}
	var signer *x509.Certificate
	for _, c := range opts.Trusted {
		if bytes.Equal(hash(c.Raw), thumb) {
			signer = c
			break
		}
	}
	if signer == nil {
		return nil, invalidClient(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%X']", thumb)
	}

	x5c, present := h["x5c"]
	if !present {
		if opts.AllowMissingX5C {
			return signer, nil
		}
		return nil, invalidClient(700027, "Client assertion has no x5c header.")
	}
	chain, err := parseX5C(x5c)
	if err != nil {
		return nil, invalidClient(700027, "Client assertion x5c header is invalid: %v.", err)
	}
	if !chain[0].Equal(signer) {
		return nil, invalidClient(700027, "Client assertion x5c header does not start with the certificate named by its thumbprint.")
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, invalidClient(700027, "Client assertion x5c certificate %d is not signed by certificate %d: %v.", i, i+1, err)
		}
	}
	return signer, nil
}

// parseX5C parses an x5c header: standard base64 DER certificates, leaf first.
func parseX5C(v any) ([]*x509.Certificate, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("not a non-empty array")
	}
	chain := make([]*x509.Certificate, 0, len(list))
	for i, e := range list {
		str, _ := e.(string)
		der, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, fmt.Errorf("entry %d is not base64", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("entry %d does not parse", i)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// decodeB64 decodes a thumbprint header: base64url as RFC 7515 says, or standard base64
// as MSAL Go sends it.
func decodeB64(v any) []byte {
	str, ok := v.(string)
	if !ok || str == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(str); err == nil {
			return b
		}
	}
	return nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
