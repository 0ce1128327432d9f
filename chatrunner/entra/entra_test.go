package entra_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra/entratest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
)

const password = "s3cret-Pa55word!"

// setup starts a stand-in that trusts a new RSA client certificate, and returns both with
// the parsed certificate and a Config for the stand-in.
func setup(t *testing.T, opts entratest.Options) (*entratest.Server, *entratest.ClientCert, *credentials.Certificate, entra.Config) {
	t.Helper()
	cc := entratest.NewClientCert(t, entratest.CertOptions{Intermediate: true})
	opts.Trusted = append(opts.Trusted, cc.Leaf)
	s := entratest.New(t, opts)
	cert, err := credentials.ParseCertificate(cc.CertPEM, cc.KeyPEM, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Nothing may leave loopback: no dial elsewhere, no request the stand-in does not serve.
		if d := s.RefusedDials(); len(d) > 0 {
			t.Errorf("dials refused (would have left loopback): %v", d)
		}
		if u := s.Unexpected(); len(u) > 0 {
			t.Errorf("unexpected requests to the stand-in: %v", u)
		}
	})
	return s, cc, cert, entra.Config{
		Authority:  s.Authority(),
		ClientID:   s.ClientID(),
		Scope:      s.Scope(),
		Timeout:    5 * time.Second,
		HTTPClient: s.Client(),
	}
}

// runKeeper starts k until the test ends.
func runKeeper(t *testing.T, k *entra.Keeper) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func authorize(ctx context.Context, a gms.Authorizer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://gms.example/genesys/2/chat/svc", nil)
	if err != nil {
		return "", err
	}
	if err := a.Authorize(ctx, req); err != nil {
		return "", err
	}
	return req.Header.Get("Authorization"), nil
}

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// secretsOf are strings no error may contain: the password, runs of the key's base64,
// and every token the stand-in issued.
func secretsOf(s *entratest.Server, ccs ...*entratest.ClientCert) []string {
	out := []string{password, "eyJ", "client_assertion"}
	for _, cc := range ccs {
		b64 := strings.Join(strings.Split(string(cc.KeyPEM), "\n")[1:], "")
		for i := 64; i+32 <= len(b64)-40; i += 32 {
			out = append(out, b64[i:i+32])
		}
	}
	return append(out, s.Tokens()...)
}

func expectNoSecrets(g Gomega, err error, secrets []string) {
	g.Expect(err).To(HaveOccurred())
	for _, s := range secrets {
		g.Expect(err.Error()).NotTo(ContainSubstring(s))
	}
}

func TestTokenObtainedAndUsed(t *testing.T) {
	g := NewWithT(t)
	s, _, cert, cfg := setup(t, entratest.Options{})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	k := entra.NewKeeper(src, entra.KeeperOptions{})
	runKeeper(t, k)

	h, err := authorize(ctxWithin(t, 10*time.Second), k.Authorizer())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(h).To(HavePrefix("Bearer "))
	g.Expect(s.ValidBearer(h)).To(BeTrue(), "the stand-in issued the token")
	g.Expect(s.Tokens()).To(HaveLen(1))
	g.Expect(s.DiscoveryRequests()).To(Equal(1), "OpenID configuration read from the authority")

	ok, since, herr := k.Healthy()
	g.Expect(ok).To(BeTrue())
	g.Expect(herr).NotTo(HaveOccurred())
	g.Expect(since).NotTo(BeZero())

	// Source.Authorizer too (direct, no waiting).
	h2, err := authorize(ctxWithin(t, 10*time.Second), src.Authorizer())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.ValidBearer(h2)).To(BeTrue())
}

func TestSourceCachesToken(t *testing.T) {
	g := NewWithT(t)
	s, _, cert, cfg := setup(t, entratest.Options{ExpiresIn: time.Hour})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())

	tok1, exp1, err := src.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(exp1).To(BeTemporally("~", time.Now().Add(time.Hour), 10*time.Second))
	tok2, exp2, err := src.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tok2).To(Equal(tok1))
	g.Expect(exp2).To(BeTemporally("==", exp1))
	g.Expect(s.Requests()).To(Equal(1), "the second call is answered from MSAL's cache")
}

func TestSourceRenewsTokenNearExpiry(t *testing.T) {
	g := NewWithT(t)
	// MSAL does not use a cached token that expires within five minutes: a 2-minute token
	// is renewed on the next call.
	s, _, cert, cfg := setup(t, entratest.Options{ExpiresIn: 2 * time.Minute})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	tok1, _, err := src.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	tok2, _, err := src.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tok2).NotTo(Equal(tok1))
	g.Expect(s.Requests()).To(Equal(2))
}

func TestKeeperCachesAndRenewsBeforeExpiry(t *testing.T) {
	g := NewWithT(t)
	s, _, cert, cfg := setup(t, entratest.Options{ExpiresIn: time.Hour})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	k := entra.NewKeeper(src, entra.KeeperOptions{})
	runKeeper(t, k)

	first, err := k.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	for range 20 {
		tok, err := k.Token(ctxWithin(t, time.Second))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tok).To(Equal(first))
	}
	g.Expect(s.Requests()).To(Equal(1), "one token for many calls")

	// Short-lived tokens (2 s) are renewed ahead of expiry, and calls keep getting a
	// valid one without waiting for long.
	s.SetExpiresIn(2 * time.Second)
	g.Expect(src.Update(withTimeout(cfg, 4*time.Second), cert)).To(Succeed()) // new client: empty cache
	var seen []string
	g.Eventually(func(g Gomega) {
		tok, err := k.Token(ctxWithin(t, 3*time.Second))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(s.Valid(tok)).To(BeTrue(), "a token in use has not expired")
		if last := len(seen) - 1; last < 0 || seen[last] != tok {
			if last >= 1 {
				// Renewed ahead of expiry: the previous short-lived token is still valid.
				if !s.Valid(seen[last]) {
					t.Errorf("token %d was renewed after it expired", last)
				}
			}
			seen = append(seen, tok)
		}
		g.Expect(seen).To(HaveLen(4), "the 1 h token, then a 2 s token renewed twice")
	}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	ok, _, _ := k.Healthy()
	g.Expect(ok).To(BeTrue())
}

func withTimeout(cfg entra.Config, d time.Duration) entra.Config {
	cfg.Timeout = d
	return cfg
}

func TestTimeoutThenRecoveryWithBackoff(t *testing.T) {
	g := NewWithT(t)
	s, cc, cert, cfg := setup(t, entratest.Options{})
	cfg.Timeout = 300 * time.Millisecond
	s.SetDelay(time.Minute)
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())

	clk := clocktesting.NewFakeClock(time.Now())
	var mu sync.Mutex
	var changes []bool
	k := entra.NewKeeper(src, entra.KeeperOptions{
		Clock:   clk,
		Backoff: wait.Backoff{Duration: time.Second, Factor: 2, Steps: 100, Cap: 4 * time.Second},
		OnHealthChange: func(ok bool, _ error) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, ok)
		},
	})
	ok, _, herr := k.Healthy()
	g.Expect(ok).To(BeFalse())
	g.Expect(herr).NotTo(HaveOccurred(), "no attempt yet")
	runKeeper(t, k)

	// The first attempt times out: the Keeper says so and waits (back-off).
	g.Eventually(func() error { _, _, err := k.Healthy(); return err }).WithTimeout(10 * time.Second).
		Should(MatchError("obtaining an Entra ID token for client " + s.ClientID() + " from " + s.Authority() + ": no answer within 300ms (tokenTimeoutSeconds)"))
	_, _, herr = k.Healthy()
	var te *entra.TokenError
	g.Expect(errors.As(herr, &te)).To(BeTrue())
	g.Expect(te.Timeout).To(BeTrue())
	g.Expect(herr).To(MatchError(context.DeadlineExceeded))
	g.Expect(herr).To(MatchError(gms.ErrCredentialsUnavailable))

	// A chat waits for a token, within its deadline, then fails with the reason; the Chat
	// API client retries that error (ErrCredentialsUnavailable).
	_, err = authorize(ctxWithin(t, 200*time.Millisecond), k.Authorizer())
	g.Expect(err).To(MatchError(ContainSubstring("no answer within 300ms (tokenTimeoutSeconds) (no token after waiting")))
	g.Expect(err).To(MatchError(gms.ErrCredentialsUnavailable))
	expectNoSecrets(g, err, secretsOf(s, cc))

	// Back-off: 1 s, then 2 s, then 4 s (the cap), in the Keeper's clock.
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	g.Expect(s.Requests()).To(Equal(1))
	clk.Step(999 * time.Millisecond)
	g.Consistently(s.Requests).WithTimeout(200 * time.Millisecond).Should(Equal(1))
	clk.Step(time.Millisecond)
	g.Eventually(s.Requests).Should(Equal(2))
	g.Eventually(clk.HasWaiters).WithTimeout(5 * time.Second).Should(BeTrue())
	clk.Step(1999 * time.Millisecond)
	g.Consistently(s.Requests).WithTimeout(200 * time.Millisecond).Should(Equal(2))
	clk.Step(time.Millisecond)
	g.Eventually(s.Requests).Should(Equal(3))

	// The authority recovers: the next attempt gets a token, chats go on.
	s.SetDelay(0)
	g.Eventually(clk.HasWaiters).WithTimeout(5 * time.Second).Should(BeTrue())
	waiting := make(chan error, 1)
	go func() {
		_, err := authorize(ctxWithin(t, 10*time.Second), k.Authorizer())
		waiting <- err
	}()
	clk.Step(4 * time.Second)
	g.Eventually(waiting).WithTimeout(10*time.Second).Should(Receive(BeNil()), "the waiting chat got the token")
	ok, _, herr = k.Healthy()
	g.Expect(ok).To(BeTrue())
	g.Expect(herr).NotTo(HaveOccurred())
	mu.Lock()
	g.Expect(changes).To(Equal([]bool{false, true}))
	mu.Unlock()
}

func TestChatWaitsForSlowToken(t *testing.T) {
	g := NewWithT(t)
	s, _, cert, cfg := setup(t, entratest.Options{})
	s.SetDelay(time.Second) // slower than usual, within the 5 s timeout
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	k := entra.NewKeeper(src, entra.KeeperOptions{})
	runKeeper(t, k)
	h, err := authorize(ctxWithin(t, 10*time.Second), k.Authorizer())
	g.Expect(err).NotTo(HaveOccurred(), "waited rather than failed")
	g.Expect(s.ValidBearer(h)).To(BeTrue())
}

func TestWrongKeyRefused(t *testing.T) {
	g := NewWithT(t)
	s, cc, _, cfg := setup(t, entratest.Options{})
	// A certificate that is not registered on the application.
	other := entratest.NewClientCert(t, entratest.CertOptions{CommonName: "not-registered"})
	cert, err := credentials.ParseCertificate(other.CertPEM, other.EncryptedPKCS8PEM(t, password), []byte(password), time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())

	_, _, err = src.Token(ctxWithin(t, 10*time.Second))
	var te *entra.TokenError
	g.Expect(errors.As(err, &te)).To(BeTrue())
	g.Expect(te.HTTPStatus).To(Equal(http.StatusUnauthorized))
	g.Expect(te.Code).To(Equal("invalid_client"))
	g.Expect(err.Error()).To(HavePrefix("obtaining an Entra ID token for client " + s.ClientID() + " from " + s.Authority() + ": the authority answered HTTP 401 Unauthorized to POST " + s.TokenEndpoint() + ": invalid_client: AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."))
	g.Expect(err.Error()).NotTo(ContainSubstring("Trace ID"), "one line")
	g.Expect(err).To(MatchError(gms.ErrCredentialsUnavailable))
	expectNoSecrets(g, err, secretsOf(s, cc, other))
	g.Expect(s.Rejections()).To(ConsistOf(ContainSubstring("AADSTS700027")))

	// The Keeper reports it.
	k := entra.NewKeeper(src, entra.KeeperOptions{})
	runKeeper(t, k)
	g.Eventually(func() error { _, _, err := k.Healthy(); return err }).Should(MatchError(ContainSubstring("AADSTS700027")))
}

func TestUntrustedAfterRotationIsRefusedAndTrustedRecovers(t *testing.T) {
	g := NewWithT(t)
	s, cc, cert, cfg := setup(t, entratest.Options{})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	k := entra.NewKeeper(src, entra.KeeperOptions{Backoff: wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Steps: 100, Cap: 200 * time.Millisecond}})
	runKeeper(t, k)
	first, err := k.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())

	// The Secret rotates to a new certificate that Entra ID does not know yet: the new
	// certificate is used at once (new client, empty cache) and refused, while the old
	// token, still valid for the same client, keeps chats going.
	next := entratest.NewClientCert(t, entratest.CertOptions{CommonName: "rotated"})
	nextCert, err := credentials.ParseCertificate(next.CertPEM, next.LegacyEncryptedPEM(t, password), []byte(password), time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(src.Update(cfg, nextCert)).To(Succeed())
	g.Eventually(func() error { _, _, err := k.Healthy(); return err }).Should(MatchError(ContainSubstring("not registered")))
	tok, err := k.Token(ctxWithin(t, time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tok).To(Equal(first))

	// Once registered, the back-off retry gets a token with the new certificate.
	s.SetTrusted(cc.Leaf, next.Leaf)
	g.Eventually(func() bool { ok, _, _ := k.Healthy(); return ok }).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Eventually(func() string { tok, _ := k.Token(ctxWithin(t, time.Second)); return tok }).ShouldNot(Equal(first))

	// An Update that changes nothing keeps the client and its cache.
	n := s.Requests()
	g.Expect(src.Update(cfg, nextCert)).To(Succeed())
	_, _, err = src.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Requests()).To(Equal(n))
}

func TestUpdateOfClientDropsToken(t *testing.T) {
	g := NewWithT(t)
	s, _, cert, cfg := setup(t, entratest.Options{})
	src, err := entra.NewSource(cfg, cert)
	g.Expect(err).NotTo(HaveOccurred())
	k := entra.NewKeeper(src, entra.KeeperOptions{})
	runKeeper(t, k)
	_, err = k.Token(ctxWithin(t, 10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())

	// Another client ID: the token of the old one must not be used; the stand-in does not
	// know the new one, so no token can be had.
	other := cfg
	other.ClientID = "99999999-0000-0000-0000-000000000000"
	g.Expect(src.Update(other, cert)).To(Succeed())
	_, err = k.Token(ctxWithin(t, 500*time.Millisecond))
	g.Expect(err).To(MatchError(HavePrefix("obtaining an Entra ID token for client 99999999-0000-0000-0000-000000000000 from " + s.Authority())))
	g.Eventually(func() error { _, _, err := k.Healthy(); return err }).Should(MatchError(ContainSubstring("AADSTS700016")))
}

func TestEncryptedKeysEndToEnd(t *testing.T) {
	cc := entratest.NewClientCert(t, entratest.CertOptions{Intermediate: true})
	s := entratest.New(t, entratest.Options{Trusted: []*x509.Certificate{cc.Leaf}})
	for name, keyPEM := range map[string][]byte{
		"legacy encrypted PEM": cc.LegacyEncryptedPEM(t, password),
		"encrypted PKCS#8":     cc.EncryptedPKCS8PEM(t, password),
		"one PEM bundle":       append(append([]byte{}, cc.CertPEM...), cc.EncryptedPKCS8PEM(t, password)...),
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			certPEM, kp := cc.CertPEM, keyPEM
			if name == "one PEM bundle" {
				certPEM, kp = keyPEM, nil
			}
			_, err := credentials.ParseCertificate(certPEM, kp, []byte("wrong"), time.Now())
			var ce *credentials.Error
			g.Expect(errors.As(err, &ce)).To(BeTrue())
			g.Expect(ce.Reason).To(Equal(credentials.ReasonPrivateKeyPassword))

			cert, err := credentials.ParseCertificate(certPEM, kp, []byte(password), time.Now())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cert.Chain).To(HaveLen(2), "leaf and intermediate, sent in x5c")
			src, err := entra.NewSource(entra.Config{Authority: s.Authority(), ClientID: s.ClientID(), Scope: s.Scope(), HTTPClient: s.Client()}, cert)
			g.Expect(err).NotTo(HaveOccurred())
			tok, _, err := src.Token(ctxWithin(t, 10*time.Second))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Valid(tok)).To(BeTrue())
		})
	}
	NewWithT(t).Expect(s.RefusedDials()).To(BeEmpty())
}

func TestECDSAKeyRefused(t *testing.T) {
	g := NewWithT(t)
	cc := entratest.NewClientCert(t, entratest.CertOptions{ECDSA: true})
	cert, err := credentials.ParseCertificate(cc.CertPEM, cc.KeyPEM, nil, time.Now())
	g.Expect(err).NotTo(HaveOccurred(), "credentials accepts ECDSA")
	_, err = entra.NewSource(entra.Config{Authority: "https://login.microsoftonline.com/tenant", ClientID: "c", Scope: "s"}, cert)
	var ce *credentials.Error
	g.Expect(errors.As(err, &ce)).To(BeTrue())
	g.Expect(ce.Reason).To(Equal(credentials.ReasonPrivateKeyInvalid))
	g.Expect(ce.Detail).To(ContainSubstring("needs an RSA key"))
	g.Expect(credentials.CheckRSA(cert)).To(MatchError(ContainSubstring("RSA")))
}

func TestConfigValidation(t *testing.T) {
	cc := entratest.NewClientCert(t, entratest.CertOptions{})
	cert, err := credentials.ParseCertificate(cc.CertPEM, cc.KeyPEM, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  entra.Config
		want string
	}{
		{entra.Config{Authority: "http://login.example/t", ClientID: "c", Scope: "s"}, "not an absolute https URL"},
		{entra.Config{Authority: "https://user:pw@login.example/t", ClientID: "c", Scope: "s"}, "without credentials"},
		{entra.Config{Authority: "https://login.example/", ClientID: "c", Scope: "s"}, "names no tenant"},
		{entra.Config{Authority: "https://login.example/t", Scope: "s"}, "clientID is empty"},
		{entra.Config{Authority: "https://login.example/t", ClientID: "c"}, "scope is empty"},
	} {
		g := NewWithT(t)
		_, err := entra.NewSource(tc.cfg, cert)
		g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
		g.Expect(err.Error()).NotTo(ContainSubstring("pw@"))
	}
	g := NewWithT(t)
	src, err := entra.NewSource(entra.Config{Authority: "https://login.example/t/", ClientID: "c", Scope: "s"}, cert)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(src.Config().Timeout).To(Equal(entra.DefaultTimeout))
	g.Expect(src.Config().Authority).To(Equal("https://login.example/t"))
	g.Expect(src.Update(entra.Config{Authority: "http://x/t", ClientID: "c", Scope: "s"}, cert)).NotTo(Succeed())
	g.Expect(src.Config().Authority).To(Equal("https://login.example/t"), "a failed Update keeps the Source as it was")
}

// TestInstanceDiscoveryWouldLeaveLoopback shows why the Source turns instance discovery
// off: with it on, MSAL asks login.microsoftonline.com about a host it does not know.
func TestInstanceDiscoveryWouldLeaveLoopback(t *testing.T) {
	g := NewWithT(t)
	cc := entratest.NewClientCert(t, entratest.CertOptions{})
	s := entratest.Start(entratest.Options{Trusted: []*x509.Certificate{cc.Leaf}})
	defer s.Close()
	cred, err := confidential.NewCredFromCert(cc.Chain, cc.Key)
	g.Expect(err).NotTo(HaveOccurred())
	app, err := confidential.New(s.Authority(), s.ClientID(), cred, confidential.WithHTTPClient(s.Client()))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = app.AcquireTokenByCredential(ctxWithin(t, 10*time.Second), []string{s.Scope()})
	g.Expect(err).To(HaveOccurred())
	g.Expect(s.RefusedDials()).To(ContainElement("login.microsoftonline.com:443"))
}
