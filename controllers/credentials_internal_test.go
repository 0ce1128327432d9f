package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/credentials"
)

func TestVerdictsAreReusedForTheSameVersionsOnly(t *testing.T) {
	g := NewWithT(t)
	refs := []reference{{Field: caBundleField, Kind: "ConfigMap", Name: "ca", Keys: []string{"ca.crt"}}}
	bad := map[string]map[string][]byte{caBundleField: {"ca.crt": []byte("not PEM")}}
	now := time.Now()
	var cache verdictCache

	first := cache.check("tenant/acme", refs, map[string]string{caBundleField: "1"}, bad, now)
	g.Expect(first).NotTo(BeNil())
	g.Expect(first.reason).To(Equal(credentials.ReasonCABundleInvalid))

	empty := map[string]map[string][]byte{caBundleField: {"ca.crt": nil}}
	g.Expect(cache.check("tenant/acme", refs, map[string]string{caBundleField: "1"}, empty, now.Add(time.Minute))).
		To(BeIdenticalTo(first), "the same versions reuse the verdict without parsing again")
	g.Expect(cache.check("tenant/acme", refs, map[string]string{caBundleField: "1"}, empty, now.Add(verdictTTL+time.Second))).
		NotTo(BeIdenticalTo(first), "a verdict expires, so an expiring certificate is noticed")
	g.Expect(cache.check("tenant/globex", refs, map[string]string{caBundleField: "1"}, bad, now)).
		NotTo(BeIdenticalTo(first), "verdicts are per gateway")
}
