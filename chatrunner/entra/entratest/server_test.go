package entratest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // x5t is SHA-1 by definition.
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra/entratest"
)

// assertion builds a client assertion as MSAL does, with changes applied.
type assertion struct {
	method  jwt.SigningMethod
	key     crypto.Signer
	thumbOf *x509.Certificate // the certificate named by x5t / x5t#S256
	x5c     []*x509.Certificate
	noX5C   bool
	claims  jwt.MapClaims
}

func newAssertion(s *entratest.Server, cc *entratest.ClientCert) *assertion {
	now := time.Now()
	return &assertion{
		method:  jwt.SigningMethodPS256,
		key:     cc.Key,
		thumbOf: cc.Leaf,
		x5c:     cc.Chain,
		claims: jwt.MapClaims{
			"aud": s.TokenEndpoint(),
			"iss": s.ClientID(),
			"sub": s.ClientID(),
			"jti": newJTI(),
			"nbf": now.Unix(),
			"exp": now.Add(10 * time.Minute).Unix(),
		},
	}
}

func (a *assertion) sign(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(a.method, a.claims)
	tok.Header = map[string]any{"alg": a.method.Alg(), "typ": "JWT"}
	if a.method == jwt.SigningMethodRS256 {
		d := sha1.Sum(a.thumbOf.Raw) //nolint:gosec // See import.
		tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(d[:])
	} else {
		d := sha256.Sum256(a.thumbOf.Raw)
		tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(d[:]) // as MSAL Go sends it
	}
	if !a.noX5C {
		var x5c []string
		for _, c := range a.x5c {
			x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
		}
		tok.Header["x5c"] = x5c
	}
	str, err := tok.SignedString(a.key)
	if err != nil {
		t.Fatal(err)
	}
	return str
}

func form(s *entratest.Server, assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {s.ClientID()},
		"scope":                 {s.Scope()},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

type answer struct {
	status int
	body   map[string]any
}

func post(t *testing.T, s *entratest.Server, f url.Values) answer {
	t.Helper()
	resp, err := s.Client().PostForm(s.TokenEndpoint(), f)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, body}
}

func TestTokenEndpoint(t *testing.T) {
	cc := entratest.NewClientCert(t, entratest.CertOptions{Intermediate: true})
	other := entratest.NewClientCert(t, entratest.CertOptions{CommonName: "other"})
	s := entratest.New(t, entratest.Options{Trusted: []*x509.Certificate{cc.Leaf}, ExpiresIn: 90 * time.Second})

	cases := []struct {
		name   string
		change func(a *assertion, f url.Values)
		status int
		code   string
		text   string
	}{
		{"PS256 with x5t#S256 and x5c", func(*assertion, url.Values) {}, http.StatusOK, "", ""},
		{"RS256 with x5t", func(a *assertion, _ url.Values) { a.method = jwt.SigningMethodRS256 }, http.StatusOK, "", ""},
		{"certificate not registered", func(a *assertion, _ url.Values) {
			a.key, a.thumbOf, a.x5c = other.Key, other.Leaf, other.Chain
		}, 401, "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered"},
		{"signed by another key", func(a *assertion, _ url.Values) { a.key = other.Key }, 401, "invalid_client", "AADSTS700027: Client assertion failed signature validation."},
		{"x5c of another certificate", func(a *assertion, _ url.Values) { a.x5c = other.Chain }, 401, "invalid_client", "x5c header does not start with the certificate"},
		{"x5c chain broken", func(a *assertion, _ url.Values) { a.x5c = []*x509.Certificate{cc.Leaf, other.Root} }, 401, "invalid_client", "is not signed by certificate 1"},
		{"x5c missing", func(a *assertion, _ url.Values) { a.noX5C = true }, 401, "invalid_client", "no x5c header"},
		{"wrong audience", func(a *assertion, _ url.Values) {
			a.claims["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token"
		}, 401, "invalid_client", "AADSTS50013"},
		{"wrong issuer", func(a *assertion, _ url.Values) { a.claims["iss"] = "someone-else" }, 401, "invalid_client", "AADSTS700021"},
		{"wrong subject", func(a *assertion, _ url.Values) { a.claims["sub"] = "someone-else" }, 401, "invalid_client", "AADSTS700021"},
		{"expired", func(a *assertion, _ url.Values) { a.claims["exp"] = time.Now().Add(-time.Minute).Unix() }, 401, "invalid_client", "AADSTS700024"},
		{"no exp", func(a *assertion, _ url.Values) { delete(a.claims, "exp") }, 401, "invalid_client", "AADSTS700024"},
		{"not yet valid", func(a *assertion, _ url.Values) { a.claims["nbf"] = time.Now().Add(time.Hour).Unix() }, 401, "invalid_client", "AADSTS700024"},
		{"no nbf", func(a *assertion, _ url.Values) { delete(a.claims, "nbf") }, 401, "invalid_client", "no nbf"},
		{"no jti", func(a *assertion, _ url.Values) { delete(a.claims, "jti") }, 401, "invalid_client", "no jti"},
		{"wrong grant", func(_ *assertion, f url.Values) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type", "AADSTS70003"},
		{"unknown client", func(_ *assertion, f url.Values) { f.Set("client_id", "nobody") }, 400, "unauthorized_client", "AADSTS700016"},
		{"wrong scope", func(_ *assertion, f url.Values) { f.Set("scope", "api://other/.default") }, 400, "invalid_scope", "AADSTS1002012"},
		{"OIDC scopes beside the scope are fine", func(_ *assertion, f url.Values) { f.Set("scope", s.Scope()+" openid offline_access profile") }, 200, "", ""},
		{"client secret", func(_ *assertion, f url.Values) { f.Set("client_secret", "x") }, 401, "invalid_client", "AADSTS7000215"},
		{"no assertion type", func(_ *assertion, f url.Values) { f.Del("client_assertion_type") }, 400, "invalid_request", "AADSTS7000218"},
		{"garbage assertion", func(_ *assertion, f url.Values) { f.Set("client_assertion", "a.b.c") }, 401, "invalid_client", "AADSTS50027"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			a := newAssertion(s, cc)
			f := form(s, "")
			tc.change(a, f)
			if f.Get("client_assertion") == "" {
				f.Set("client_assertion", a.sign(t))
			}
			ans := post(t, s, f)
			g.Expect(ans.status).To(Equal(tc.status), "%v", ans.body)
			if tc.status == http.StatusOK {
				tok, _ := ans.body["access_token"].(string)
				g.Expect(tok).NotTo(BeEmpty())
				g.Expect(ans.body["token_type"]).To(Equal("Bearer"))
				g.Expect(ans.body["expires_in"]).To(BeNumerically("==", 90))
				g.Expect(s.Valid(tok)).To(BeTrue())
				g.Expect(s.ValidBearer("Bearer " + tok)).To(BeTrue())
				g.Expect(s.Tokens()).To(ContainElement(tok))
				return
			}
			g.Expect(ans.body["error"]).To(Equal(tc.code))
			g.Expect(ans.body["error_description"]).To(ContainSubstring(tc.text))
			g.Expect(ans.body["error_description"]).To(ContainSubstring("\r\nTrace ID: "))
			g.Expect(ans.body["access_token"]).To(BeNil())
		})
	}
	g := NewWithT(t)
	g.Expect(s.Requests()).To(Equal(len(cases)))
	g.Expect(s.Rejections()).To(HaveLen(len(cases) - 3))
	g.Expect(s.Valid("made-up")).To(BeFalse())
	g.Expect(s.ValidBearer("Basic abc")).To(BeFalse())
}

func TestAllowMissingX5CAndSetTrusted(t *testing.T) {
	g := NewWithT(t)
	cc := entratest.NewClientCert(t, entratest.CertOptions{})
	s := entratest.New(t, entratest.Options{AllowMissingX5C: true})
	a := newAssertion(s, cc)
	a.noX5C = true
	g.Expect(post(t, s, form(s, a.sign(t))).status).To(Equal(http.StatusUnauthorized), "nothing trusted yet")
	s.SetTrusted(cc.Leaf)
	a.claims["jti"] = newJTI()
	g.Expect(post(t, s, form(s, a.sign(t))).status).To(Equal(http.StatusOK))
}

func TestTokensExpire(t *testing.T) {
	g := NewWithT(t)
	cc := entratest.NewClientCert(t, entratest.CertOptions{})
	s := entratest.New(t, entratest.Options{Trusted: []*x509.Certificate{cc.Leaf}, ExpiresIn: time.Second})
	ans := post(t, s, form(s, newAssertion(s, cc).sign(t)))
	g.Expect(ans.body["expires_in"]).To(BeNumerically("==", 1))
	tok := ans.body["access_token"].(string)
	g.Expect(s.Valid(tok)).To(BeTrue())
	g.Eventually(func() bool { return s.Valid(tok) }).WithTimeout(3 * time.Second).Should(BeFalse())
}

func TestDiscoveryAndLoopbackOnly(t *testing.T) {
	g := NewWithT(t)
	s := entratest.New(t, entratest.Options{Tenant: "My-Tenant"})
	g.Expect(s.Authority()).To(Equal(s.URL() + "/My-Tenant"))
	resp, err := s.Client().Get(s.URL() + "/my-tenant/v2.0/.well-known/openid-configuration")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	var doc map[string]any
	g.Expect(json.NewDecoder(resp.Body).Decode(&doc)).To(Succeed())
	g.Expect(doc).To(HaveKeyWithValue("token_endpoint", s.TokenEndpoint()))
	g.Expect(doc).To(HaveKeyWithValue("issuer", s.Authority()+"/v2.0"))
	g.Expect(doc).To(HaveKey("authorization_endpoint"))
	g.Expect(s.DiscoveryRequests()).To(Equal(1))

	r2, err := s.Client().Get(s.URL() + "/common/discovery/instance")
	g.Expect(err).NotTo(HaveOccurred())
	_ = r2.Body.Close()
	g.Expect(r2.StatusCode).To(Equal(http.StatusNotFound))
	g.Expect(s.Unexpected()).To(Equal([]string{"GET /common/discovery/instance"}))

	_, err = s.Client().Get("https://login.microsoftonline.com/common/discovery/instance")
	g.Expect(err).To(MatchError(ContainSubstring("refused to dial login.microsoftonline.com:443")))
	g.Expect(s.RefusedDials()).To(Equal([]string{"login.microsoftonline.com:443"}))
	g.Expect(s.CAPool()).NotTo(BeNil())
}

func TestDelay(t *testing.T) {
	g := NewWithT(t)
	cc := entratest.NewClientCert(t, entratest.CertOptions{})
	s := entratest.New(t, entratest.Options{Trusted: []*x509.Certificate{cc.Leaf}})
	s.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenEndpoint(), strings.NewReader(form(s, newAssertion(s, cc).sign(t)).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := s.Client().Do(req)
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
	g.Expect(s.Requests()).To(Equal(1))
	g.Expect(s.Tokens()).To(BeEmpty())
	s.SetDelay(0)
	g.Expect(post(t, s, form(s, newAssertion(s, cc).sign(t))).status).To(Equal(http.StatusOK))
}

func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
