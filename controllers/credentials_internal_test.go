package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

func TestVerdictsAreReusedForTheSameVersionsOnly(t *testing.T) {
	g := NewWithT(t)
	refs := []reference{{Field: gateway.FieldCABundle, Kind: gateway.KindConfigMap, Name: "ca", Keys: []string{"ca.crt"}}}
	bad := map[gateway.Field]map[string][]byte{gateway.FieldCABundle: {"ca.crt": []byte("not PEM")}}
	now := time.Now()
	var cache verdictCache

	first := cache.check("tenant/acme", refs, map[gateway.Field]string{gateway.FieldCABundle: "1"}, bad, now)
	g.Expect(first).NotTo(BeNil())
	g.Expect(first.reason).To(Equal(credentials.ReasonCABundleInvalid))

	empty := map[gateway.Field]map[string][]byte{gateway.FieldCABundle: {"ca.crt": nil}}
	g.Expect(cache.check("tenant/acme", refs, map[gateway.Field]string{gateway.FieldCABundle: "1"}, empty, now.Add(time.Minute))).
		To(BeIdenticalTo(first), "the same versions reuse the verdict without parsing again")
	g.Expect(cache.check("tenant/acme", refs, map[gateway.Field]string{gateway.FieldCABundle: "1"}, empty, now.Add(verdictTTL+time.Second))).
		NotTo(BeIdenticalTo(first), "a verdict expires, so an expiring certificate is noticed")
	g.Expect(cache.check("tenant/globex", refs, map[gateway.Field]string{gateway.FieldCABundle: "1"}, bad, now)).
		NotTo(BeIdenticalTo(first), "verdicts are per gateway")
}

// TestOperatorRefusesWhatTheRunnerRefuses is the operator's half of the runner's
// TestTransportRefusesWhatTheOperatorRefuses: the same material, the same verdict.
func TestOperatorRefusesWhatTheRunnerRefuses(t *testing.T) {
	g := NewWithT(t)
	client := testcerts.NewClientCert(t, testcerts.CertOptions{})
	good := client.RootPEM()
	bad := testcerts.BundleWithBadBlock(good)
	caRef := reference{Field: gateway.FieldCABundle, Kind: gateway.KindConfigMap, Name: "private-ca", Keys: []string{"ca.crt"}}
	certRef := reference{Field: gateway.FieldClientCertificate, Kind: gateway.KindSecret, Name: "gms-client", Keys: []string{"tls.crt", "tls.key"}}

	problem := checkCredentials([]reference{caRef}, map[gateway.Field]map[string][]byte{gateway.FieldCABundle: {"ca.crt": bad}}, time.Now())
	g.Expect(problem).NotTo(BeNil())
	g.Expect(problem.reason).To(Equal(credentials.ReasonCABundleInvalid))
	g.Expect(problem.message).To(ContainSubstring("certificate 2 of the CA bundle does not parse"))

	expired := testcerts.NewClientCert(t, testcerts.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	problem = checkCredentials([]reference{caRef, certRef}, map[gateway.Field]map[string][]byte{
		gateway.FieldCABundle:          {"ca.crt": good},
		gateway.FieldClientCertificate: {"tls.crt": expired.CertPEM, "tls.key": expired.KeyPEM},
	}, time.Now())
	g.Expect(problem).NotTo(BeNil())
	g.Expect(problem.reason).To(Equal(credentials.ReasonCertificateExpired))
	g.Expect(problem.message).To(ContainSubstring(`Secret "gms-client" named by spec.connection.tls.clientCertificateSecretRef`))

	g.Expect(checkCredentials([]reference{caRef, certRef}, map[gateway.Field]map[string][]byte{
		gateway.FieldCABundle:          {"ca.crt": good},
		gateway.FieldClientCertificate: {"tls.crt": client.CertPEM, "tls.key": client.KeyPEM},
	}, time.Now())).To(BeNil())
}
