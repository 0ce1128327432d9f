package testcerts_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

func TestClientCertChainsToItsRootAndItsPEMLoads(t *testing.T) {
	g := NewWithT(t)
	c := testcerts.NewClientCert(t, testcerts.CertOptions{Intermediate: true})
	g.Expect(c.Chain).To(HaveLen(2))
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	g.Expect(roots.AppendCertsFromPEM(c.RootPEM())).To(BeTrue())
	intermediates.AddCert(c.Chain[1])
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	g.Expect(err).NotTo(HaveOccurred())

	pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pair.Certificate).To(HaveLen(2), "leaf then intermediate")
}

func TestBundleWithBadBlockKeepsTheGoodBundle(t *testing.T) {
	g := NewWithT(t)
	good := testcerts.NewClientCert(t, testcerts.CertOptions{ECDSA: true}).RootPEM()
	before := bytes.Clone(good)
	bad := testcerts.BundleWithBadBlock(good)
	g.Expect(good).To(Equal(before))
	g.Expect(bad).To(HavePrefix(string(good)))
	g.Expect(bad).To(HaveSuffix(string(testcerts.BadCertificateBlock)))
	g.Expect(x509.NewCertPool().AppendCertsFromPEM(bad)).To(BeTrue(), "the standard library skips the bad block")
}
