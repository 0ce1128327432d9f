package chatrunner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// tlsSnapshot is a gateway serving its escalation API with the certificate of Secret
// "api-tls" at a version.
func tlsSnapshot(cert *testcerts.ServerCert, version string) *live.Snapshot {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	gw.Spec.Runner.EscalationTLS = &chatv1alpha1.EscalationTLS{SecretRef: chatv1alpha1.SecretReference{Name: "api-tls"}}
	return &live.Snapshot{Gateway: gw, Secrets: map[string]*corev1.Secret{"api-tls": {
		ObjectMeta: metav1.ObjectMeta{Name: "api-tls", ResourceVersion: version},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": cert.KeyPEM},
	}}}
}

// servedCertificate connects to addr trusting roots and returns the leaf it was served.
func servedCertificate(addr string, roots *x509.CertPool) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestEscalationAPIOverTLSWithLiveRotationAndTLSForwarding(t *testing.T) {
	g := NewWithT(t)
	first := testcerts.NewServerCert(t, "127.0.0.1")
	second := testcerts.NewServerCert(t, "127.0.0.1")
	var snap atomic.Pointer[live.Snapshot]
	snap.Store(tlsSnapshot(first, "1"))
	etls := newEscalationTLS(snap.Load, logr.Discard())
	_, _, err := etls.load()
	g.Expect(err).NotTo(HaveOccurred())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	go func() { _ = serve(ctx, "the escalation API", addr, handler, etls.serverConfig()) }()

	trust := func(c *testcerts.ServerCert) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(c.Leaf)
		return p
	}
	g.Eventually(func() (*x509.Certificate, error) { return servedCertificate(addr, trust(first)) }).
		WithTimeout(5 * time.Second).Should(Equal(first.Leaf))

	plain, err := http.Get("http://" + addr + "/")
	g.Expect(err).NotTo(HaveOccurred())
	plain.Body.Close()
	g.Expect(plain.StatusCode).To(Equal(http.StatusBadRequest), "plain HTTP is answered with an error, never served")

	get := func() (int, error) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
		resp, err := etls.RoundTrip(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	g.Expect(get()).To(Equal(http.StatusOK), "a peer forwards over HTTPS, trusting the certificate itself when the Secret has no ca.crt")
	_, fwd, err := etls.load()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(fwd.TLSClientConfig.RootCAs.Equal(trust(first))).To(BeTrue(), "peers are trusted with the Secret's roots alone, not the system's")
	g.Expect(fwd.Proxy).To(BeNil(), "never through an HTTP proxy: the calls carry the bot's token")

	snap.Store(tlsSnapshot(second, "2"))
	got, err := servedCertificate(addr, trust(second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(second.Leaf), "a renewed certificate is served from the next connection on, without a restart")
	g.Expect(get()).To(Equal(http.StatusOK), "forwarding follows the renewed certificate")

	broken := tlsSnapshot(second, "3")
	broken.Secrets["api-tls"].Data["tls.key"] = []byte("not a key")
	snap.Store(broken)
	got, err = servedCertificate(addr, trust(second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(second.Leaf), "a broken renewal keeps the certificate in use")

	other := testcerts.NewServerCert(t, "127.0.0.1")
	stranger := newEscalationTLS(func() *live.Snapshot { return tlsSnapshot(other, "1") }, logr.Discard())
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
	_, err = stranger.RoundTrip(req)
	g.Expect(err).To(MatchError(ContainSubstring("certificate")), "a peer that trusts another certificate refuses to forward")
}

func TestEscalationTLSRefusesToStartWithoutAUsableCertificate(t *testing.T) {
	g := NewWithT(t)
	snap := tlsSnapshot(testcerts.NewServerCert(t, "127.0.0.1"), "1")
	snap.Secrets["api-tls"].Data["tls.crt"] = []byte("not PEM")
	_, _, err := newEscalationTLS(func() *live.Snapshot { return snap }, logr.Discard()).load()
	g.Expect(err).To(MatchError(ContainSubstring(`Secret "api-tls" named by spec.runner.escalationTLS.secretRef`)))

	snap.Gateway.Spec.Runner.EscalationTLS = nil
	_, _, err = newEscalationTLS(func() *live.Snapshot { return snap }, logr.Discard()).load()
	g.Expect(err).To(MatchError(ContainSubstring("spec.runner.escalationTLS is not set")))
}
