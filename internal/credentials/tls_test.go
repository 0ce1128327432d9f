package credentials_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

func reasonOf(err error) string {
	var cerr *credentials.Error
	if errors.As(err, &cerr) {
		return cerr.Reason
	}
	return ""
}

func TestTLSConfigRefusesWhatTheStandardLibraryWouldSkip(t *testing.T) {
	g := NewWithT(t)
	material(t)
	bundle := testcerts.BundleWithBadBlock(testcerts.CertPEM(caCert))
	g.Expect(x509.NewCertPool().AppendCertsFromPEM(bundle)).To(BeTrue(),
		"AppendCertsFromPEM skips the bad block: the runner used to accept what the operator refused")

	_, err := credentials.TLSConfig(credentials.TLSMaterial{CABundle: bundle}, now)
	g.Expect(reasonOf(err)).To(Equal(credentials.ReasonCABundleInvalid))
	g.Expect(err).To(MatchError(ContainSubstring("certificate 2 of the CA bundle does not parse")))

	_, err = credentials.TLSConfig(credentials.TLSMaterial{CABundle: []byte{}}, now)
	g.Expect(reasonOf(err)).To(Equal(credentials.ReasonCABundleInvalid), "a named but empty bundle is refused")
}

func TestTLSConfigTrustsTheBundleAndPresentsTheClientCertificate(t *testing.T) {
	g := NewWithT(t)
	material(t)
	cfg, err := credentials.TLSConfig(credentials.TLSMaterial{
		CABundle:          testcerts.CertPEM(caCert),
		ClientCertificate: testcerts.CertPEM(chainLeaf, intermediateCert),
		ClientKey:         testcerts.PKCS8PEM(t, rsaKey),
	}, now)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg.MinVersion).To(BeNumerically("==", tls.VersionTLS12))
	g.Expect(cfg.InsecureSkipVerify).To(BeFalse())

	intermediates := x509.NewCertPool()
	intermediates.AddCert(intermediateCert)
	_, err = chainLeaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	g.Expect(err).NotTo(HaveOccurred(), "the bundle's CA is trusted")

	g.Expect(cfg.Certificates).To(HaveLen(1))
	g.Expect(cfg.Certificates[0].Certificate).To(Equal([][]byte{chainLeaf.Raw, intermediateCert.Raw}), "the chain, leaf first")
	g.Expect(cfg.Certificates[0].Leaf).To(Equal(chainLeaf))

	none, err := credentials.TLSConfig(credentials.TLSMaterial{}, now)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(none.RootCAs).To(BeNil(), "no bundle: the system's roots")
	g.Expect(none.Certificates).To(BeEmpty())
}

func TestTLSConfigRefusesAClientCertificateThatCannotWork(t *testing.T) {
	g := NewWithT(t)
	material(t)
	for name, tc := range map[string]struct {
		m    credentials.TLSMaterial
		want string
	}{
		"mismatched key": {credentials.TLSMaterial{ClientCertificate: testcerts.CertPEM(rsaLeaf), ClientKey: testcerts.PKCS8PEM(t, rsaKey2)}, credentials.ReasonPrivateKeyMismatch},
		"expired":        {credentials.TLSMaterial{ClientCertificate: testcerts.CertPEM(expiredLeaf), ClientKey: testcerts.PKCS8PEM(t, rsaKey)}, credentials.ReasonCertificateExpired},
		"no key":         {credentials.TLSMaterial{ClientCertificate: testcerts.CertPEM(rsaLeaf), ClientKey: []byte{}}, credentials.ReasonPrivateKeyInvalid},
	} {
		_, err := credentials.TLSConfig(tc.m, now)
		g.Expect(reasonOf(err)).To(Equal(tc.want), name)
	}
}
