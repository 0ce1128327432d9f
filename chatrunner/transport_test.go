package chatrunner

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// snapshotWithCA is a gateway whose TLS trusts the CA bundle of a ConfigMap.
func snapshotWithCA(bundle []byte, version string) *live.Snapshot {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	gw.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Kind: "ConfigMap", Name: "private-ca", Key: "ca.crt"}}
	return &live.Snapshot{
		Gateway: gw,
		ConfigMaps: map[string]*corev1.ConfigMap{"private-ca": {
			ObjectMeta: metav1.ObjectMeta{Name: "private-ca", ResourceVersion: version},
			Data:       map[string]string{"ca.crt": string(bundle)},
		}},
	}
}

// get GETs url on the transport's net/http transport and on its fasthttp client (Refresh
// Chat's), which must trust and present the same: it returns net/http's error when they
// agree, an error saying they disagree otherwise.
func get(t *tlsTransport, url string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := t.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	_, _, fastErr := t.FastClient().GetTimeout(nil, url, 10*time.Second)
	if (err == nil) != (fastErr == nil) {
		return fmt.Errorf("net/http and fasthttp disagree: net/http failed %t, fasthttp failed %t (%v)", err != nil, fastErr != nil, fastErr)
	}
	return err
}

func TestPrivateCATrustedWhenConfiguredRefusedWhenNot(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ca := testcerts.CertPEM(srv.Certificate())

	tr := newTLSTransport()
	g.Expect(get(tr, srv.URL)).To(MatchError(ContainSubstring("certificate signed by unknown authority")), "not trusted by default")

	g.Expect(tr.update(snapshotWithCA(ca, "1"))).To(Succeed())
	g.Expect(get(tr, srv.URL)).To(Succeed(), "trusted once the bundle names it")

	g.Expect(tr.update(snapshotWithCA(otherCA(t), "2"))).To(Succeed())
	g.Expect(get(tr, srv.URL)).To(MatchError(ContainSubstring("certificate signed by unknown authority")),
		"a rotated bundle applies to the next call")
	g.Expect(tr.update(snapshotWithCA(ca, "3"))).To(Succeed())
	g.Expect(get(tr, srv.URL)).To(Succeed())

	g.Expect(tr.update(snapshotWithCA([]byte("not PEM"), "4"))).To(MatchError(ContainSubstring(`"private-ca"`)))
	g.Expect(get(tr, srv.URL)).To(Succeed(), "a bad bundle keeps the previous transport")
	for _, cfg := range []*tls.Config{tr.current.Load().http.TLSClientConfig, tr.current.Load().fast.TLSConfig} {
		g.Expect(cfg.MinVersion).To(BeNumerically("==", tls.VersionTLS12), "TLS 1.2 at least")
		g.Expect(cfg.InsecureSkipVerify).To(BeFalse())
	}
}

// otherCA is the PEM of a CA that signed nothing the test serves.
func otherCA(t *testing.T) []byte {
	return testcerts.NewClientCert(t, testcerts.CertOptions{}).RootPEM()
}

func TestClientCertificatePresentedForMutualTLS(t *testing.T) {
	g := NewWithT(t)
	client := testcerts.NewClientCert(t, testcerts.CertOptions{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(client.Root)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	defer srv.Close()
	ca := testcerts.CertPEM(srv.Certificate())

	snap := snapshotWithCA(ca, "1")
	tr := newTLSTransport()
	g.Expect(tr.update(snap)).To(Succeed())
	g.Expect(get(tr, srv.URL)).To(HaveOccurred(), "refused without a client certificate")

	snap.Gateway.Spec.Connection.TLS.ClientCertificateSecretRef = &chatv1alpha1.SecretReference{Name: "gms-client"}
	snap.Secrets = map[string]*corev1.Secret{"gms-client": {
		ObjectMeta: metav1.ObjectMeta{Name: "gms-client", ResourceVersion: "7"},
		Data:       map[string][]byte{"tls.crt": client.CertPEM, "tls.key": client.KeyPEM},
	}}
	g.Expect(tr.update(snap)).To(Succeed())
	g.Expect(get(tr, srv.URL)).To(Succeed(), "accepted with the gateway's client certificate")
}

// TestTransportRefusesWhatTheOperatorRefuses: the runner builds its TLS configuration with
// the function the operator validates with, so material the operator refuses (a bundle
// with one block that does not parse, an expired client certificate) is refused here too,
// although the standard library's loaders would take it.
func TestTransportRefusesWhatTheOperatorRefuses(t *testing.T) {
	g := NewWithT(t)
	good := otherCA(t)
	bad := testcerts.BundleWithBadBlock(good)
	g.Expect(x509.NewCertPool().AppendCertsFromPEM(bad)).To(BeTrue())

	tr := newTLSTransport()
	g.Expect(tr.update(snapshotWithCA(bad, "1"))).To(MatchError(And(
		ContainSubstring(`ConfigMap "private-ca" named by spec.connection.tls.caBundle`),
		ContainSubstring("certificate 2 of the CA bundle does not parse"))))

	expired := testcerts.NewClientCert(t, testcerts.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	_, err := tls.X509KeyPair(expired.CertPEM, expired.KeyPEM)
	g.Expect(err).NotTo(HaveOccurred())
	snap := snapshotWithCA(good, "2")
	snap.Gateway.Spec.Connection.TLS.ClientCertificateSecretRef = &chatv1alpha1.SecretReference{Name: "gms-client"}
	snap.Secrets = map[string]*corev1.Secret{"gms-client": {
		ObjectMeta: metav1.ObjectMeta{Name: "gms-client", ResourceVersion: "1"},
		Data:       map[string][]byte{"tls.crt": expired.CertPEM, "tls.key": expired.KeyPEM},
	}}
	g.Expect(tr.update(snap)).To(MatchError(ContainSubstring(`Secret "gms-client" named by spec.connection.tls.clientCertificateSecretRef`)))
}
