package controllers

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

func TestVerdictsAreReusedForTheSameVersionsOnly(t *testing.T) {
	g := NewWithT(t)
	refs := []reference{{Field: gateway.FieldCABundle, Kind: gateway.KindConfigMap, Name: "ca", Keys: []string{"ca.crt"}}}
	bad := map[gateway.Field]map[string][]byte{gateway.FieldCABundle: {"ca.crt": []byte("not PEM")}}
	now := time.Now()
	cache := verdictCache{wait: time.Minute} // these checks are quick: never stop waiting

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

	otherKey := []reference{{Field: gateway.FieldCABundle, Kind: gateway.KindConfigMap, Name: "ca", Keys: []string{"bundle.pem"}}}
	good := map[gateway.Field]map[string][]byte{gateway.FieldCABundle: {"bundle.pem": testcerts.NewClientCert(t, testcerts.CertOptions{}).RootPEM()}}
	g.Expect(cache.check("tenant/globex", otherKey, map[gateway.Field]string{gateway.FieldCABundle: "1"}, good, now)).
		To(BeNil(), "another key of the same object version is another check")
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

// blockingChecks stands in for checkCredentials: each check blocks until released and
// returns a problem naming its gateway's first reference; running counts the checks under
// way, and peak the most at once, overall and per namespace.
type blockingChecks struct {
	release chan struct{}
	mu      sync.Mutex
	running map[string]int // by namespace ("" for all)
	peak    map[string]int
	started []string
}

func newBlockingChecks() *blockingChecks {
	return &blockingChecks{release: make(chan struct{}), running: map[string]int{}, peak: map[string]int{}}
}

func (b *blockingChecks) run(refs []reference, _ map[gateway.Field]map[string][]byte, _ time.Time) *referenceProblem {
	namespace, _, _ := strings.Cut(refs[0].Name, "/")
	b.mu.Lock()
	b.started = append(b.started, refs[0].Name)
	for _, k := range []string{"", namespace} {
		b.running[k]++
		b.peak[k] = max(b.peak[k], b.running[k])
	}
	b.mu.Unlock()
	<-b.release
	b.mu.Lock()
	for _, k := range []string{"", namespace} {
		b.running[k]--
	}
	b.mu.Unlock()
	return &referenceProblem{credentials.ReasonPrivateKeyInvalid, "checked " + refs[0].Name}
}

func (b *blockingChecks) snapshot() (running, peak map[string]int, started []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.running), maps.Clone(b.peak), slices.Clone(b.started)
}

// certRefs are the references of a gateway with an Entra ID certificate; the Secret's
// name is the gateway's key, so that blockingChecks can tell gateways apart.
func certRefs(gw string) []reference {
	return []reference{{Field: gateway.FieldEntraCertificate, Kind: gateway.KindSecret, Name: gw, Keys: []string{"tls.crt"}}}
}

// notified collects the gateways a cache notifies.
type notified struct {
	mu  sync.Mutex
	gws []types.NamespacedName
}

func (n *notified) add(gw types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gws = append(n.gws, gw)
}

func (n *notified) list() []types.NamespacedName {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.gws)
}

func TestAReconcileDoesNotWaitForASlowCheck(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	var landed notified
	cache := verdictCache{run: checks.run, wait: 20 * time.Millisecond, budget: time.Minute, notify: landed.add}
	versions := map[gateway.Field]string{gateway.FieldEntraCertificate: "1"}
	now := time.Now()

	start := time.Now()
	g.Expect(cache.check("tenant/slow", certRefs("tenant/slow"), versions, nil, now)).To(BeIdenticalTo(checkingCredentials))
	g.Expect(time.Since(start)).To(BeNumerically("<", time.Second), "the reconcile waited only briefly")
	g.Expect(checkingCredentials.checking()).To(BeTrue())
	g.Expect(cache.check("tenant/slow", certRefs("tenant/slow"), versions, nil, now)).To(BeIdenticalTo(checkingCredentials),
		"a reconcile again while the check runs: still checking, and no second check")
	g.Consistently(landed.list, 100*time.Millisecond).Should(BeEmpty())

	close(checks.release)
	g.Eventually(landed.list).Should(Equal([]types.NamespacedName{{Namespace: "tenant", Name: "slow"}}),
		"the gateway is reconciled again when its verdict lands")
	_, _, started := checks.snapshot()
	g.Expect(started).To(HaveLen(1))
	got := cache.check("tenant/slow", certRefs("tenant/slow"), versions, nil, now)
	g.Expect(got.message).To(Equal("checked tenant/slow"), "the verdict is cached")

	g.Expect(cache.check("tenant/basic", []reference{{Field: gateway.FieldBasicAuth, Kind: gateway.KindSecret, Name: "gms"}}, nil, nil, now)).
		To(BeNil(), "nothing to parse: no check at all")
}

func TestChecksRunTwoAtATimeAndOnePerNamespace(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	cache := verdictCache{run: checks.run, wait: time.Millisecond, budget: time.Minute}
	now := time.Now()
	gateways := []string{"attacker/a", "attacker/b", "attacker/c", "attacker/d", "tenant-1/gw", "tenant-2/gw"}
	for _, gw := range gateways {
		g.Expect(cache.check(gw, certRefs(gw), nil, nil, now)).To(BeIdenticalTo(checkingCredentials))
	}
	g.Eventually(func() int { running, _, _ := checks.snapshot(); return running[""] }).Should(Equal(2))
	g.Consistently(func() int { running, _, _ := checks.snapshot(); return running[""] }, 100*time.Millisecond).Should(Equal(2),
		"no more than two at once")

	close(checks.release)
	g.Eventually(func() []string { _, _, started := checks.snapshot(); return started }).Should(ConsistOf(gateways))
	_, peak, started := checks.snapshot()
	g.Expect(peak[""]).To(Equal(2))
	g.Expect(peak["attacker"]).To(Equal(1), "one check per namespace at a time")
	g.Expect(started[:2]).To(ContainElement(HavePrefix("tenant-")), "another tenant did not wait for all of the attacker's checks")
}

func TestACheckOverItsBudgetIsTooCostlyAndKeepsItsSlot(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	var landed notified
	cache := verdictCache{run: checks.run, wait: time.Millisecond, budget: 50 * time.Millisecond, notify: landed.add}
	now := time.Now()
	for _, gw := range []string{"a/gw", "b/gw", "c/gw"} {
		g.Expect(cache.check(gw, certRefs(gw), nil, nil, now)).To(BeIdenticalTo(checkingCredentials))
	}
	g.Eventually(landed.list).Should(HaveLen(2), "the two running checks outlasted their budget")

	for _, gw := range landed.list() {
		problem := cache.check(gw.String(), certRefs(gw.String()), nil, nil, now)
		g.Expect(problem.reason).To(Equal(credentials.ReasonPrivateKeyInvalid))
		g.Expect(problem.message).To(HavePrefix(fmt.Sprintf(`Secret %q named by spec.connection.microsoftClientCredentials.certificateSecretRef: too costly to check: parsing it took over 50ms`, gw.String())))
	}
	running, _, _ := checks.snapshot()
	g.Expect(running[""]).To(Equal(2), "the parses go on, holding their slots")
	g.Consistently(func() int { _, _, started := checks.snapshot(); return len(started) }, 100*time.Millisecond).Should(Equal(2),
		"a third parse does not start beside them")

	close(checks.release)
	g.Eventually(landed.list).Should(HaveLen(3))
}

func TestAnExpiredVerdictIsServedWhileItIsCheckedAgain(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	cache := verdictCache{run: checks.run, wait: 5 * time.Millisecond, budget: time.Minute}
	versions := map[gateway.Field]string{gateway.FieldEntraCertificate: "1"}
	now := time.Now()
	g.Expect(cache.check("t/gw", certRefs("t/gw"), versions, nil, now)).To(BeIdenticalTo(checkingCredentials))
	checks.release <- struct{}{}
	var first *referenceProblem
	g.Eventually(func() *referenceProblem {
		first = cache.check("t/gw", certRefs("t/gw"), versions, nil, now)
		return first
	}).ShouldNot(BeIdenticalTo(checkingCredentials))

	later := now.Add(verdictTTL + time.Second)
	g.Expect(cache.check("t/gw", certRefs("t/gw"), versions, nil, later)).To(BeIdenticalTo(first),
		"the expired verdict while the same versions are checked again: no flapping to CheckingCredentials")
	g.Expect(cache.check("t/gw", certRefs("t/gw"), map[gateway.Field]string{gateway.FieldEntraCertificate: "2"}, nil, later)).
		To(BeIdenticalTo(checkingCredentials), "new versions: the old verdict says nothing of them")
	close(checks.release)
}

func TestManySlowKeysOfANamespaceCostOneWait(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	defer close(checks.release)
	const wait = 300 * time.Millisecond
	cache := verdictCache{run: checks.run, wait: wait, budget: time.Minute}
	now := time.Now()
	timed := func(gw string) time.Duration {
		start := time.Now()
		g.Expect(cache.check(gw, certRefs(gw), nil, nil, now)).To(BeIdenticalTo(checkingCredentials))
		return time.Since(start)
	}
	g.Expect(timed("attacker/a")).To(BeNumerically(">=", wait), "the first slow check is waited for")
	for _, gw := range []string{"attacker/b", "attacker/c", "attacker/a"} {
		g.Expect(timed(gw)).To(BeNumerically("<", wait/2), "%s: its namespace has a slow check, or it was waited for already", gw)
	}
	g.Expect(timed("tenant/gw")).To(BeNumerically(">=", wait), "another namespace still waits")
}

func TestATenantsPendingChecksAreBounded(t *testing.T) {
	g := NewWithT(t)
	checks := newBlockingChecks()
	var landed notified
	var held []gateway.Field
	var mu sync.Mutex
	run := func(refs []reference, contents map[gateway.Field]map[string][]byte, now time.Time) *referenceProblem {
		mu.Lock()
		held = slices.Collect(maps.Keys(contents))
		mu.Unlock()
		return checks.run(refs, contents, now)
	}
	cache := verdictCache{run: run, wait: time.Millisecond, budget: time.Minute, notify: landed.add}
	contents := map[gateway.Field]map[string][]byte{
		gateway.FieldEntraCertificate: {"tls.crt": []byte("cert")},
		gateway.FieldAgentDirectory:   {"agents.yaml": []byte("a large directory")},
	}
	for i := range maxPendingPerNamespace + 2 {
		gw := fmt.Sprintf("attacker/gw-%d", i)
		g.Expect(cache.check(gw, certRefs(gw), nil, contents, time.Now())).To(BeIdenticalTo(checkingCredentials))
	}
	cache.mu.Lock()
	g.Expect(cache.namespaces["attacker"].users).To(Equal(maxPendingPerNamespace), "running or waiting for their turn")
	g.Expect(cache.namespaces["attacker"].deferred).To(HaveLen(2), "deferred, holding nothing")
	g.Expect(cache.m).To(HaveLen(maxPendingPerNamespace))
	cache.mu.Unlock()
	g.Eventually(func() []gateway.Field { mu.Lock(); defer mu.Unlock(); return held }).Should(Equal([]gateway.Field{gateway.FieldEntraCertificate}),
		"a check keeps only the content it parses")

	checks.release <- struct{}{} // one check ends
	g.Eventually(landed.list).Should(ContainElements(
		types.NamespacedName{Namespace: "attacker", Name: "gw-4"}, types.NamespacedName{Namespace: "attacker", Name: "gw-5"}),
		"the deferred gateways are reconciled again")
	close(checks.release)
}

// TestOperatorChecksTheEscalationServingCertificate: the Secret of spec.runner.escalationTLS
// goes through the material the runner serves (credentials.ServingMaterial), so a
// certificate the runner could not serve is reported before the runners roll.
func TestOperatorChecksTheEscalationServingCertificate(t *testing.T) {
	g := NewWithT(t)
	cert := testcerts.NewServerCert(t, "acme-escalations.tenant.svc")
	other := testcerts.NewServerCert(t, "acme-escalations.tenant.svc")
	ref := reference{Field: gateway.FieldEscalationTLS, Kind: gateway.KindSecret, Name: "api-tls", Keys: []string{"tls.crt", "tls.key"}}
	check := func(data map[string][]byte) *referenceProblem {
		return checkCredentials([]reference{ref}, map[gateway.Field]map[string][]byte{gateway.FieldEscalationTLS: data}, time.Now())
	}
	g.Expect(check(map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": cert.KeyPEM})).To(BeNil())
	problem := check(map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": other.KeyPEM})
	g.Expect(problem).NotTo(BeNil())
	g.Expect(problem.reason).To(Equal(credentials.ReasonPrivateKeyMismatch))
	g.Expect(problem.message).To(ContainSubstring(`Secret "api-tls" named by spec.runner.escalationTLS.secretRef`))
	problem = check(map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": cert.KeyPEM, "ca.crt": []byte("not PEM")})
	g.Expect(problem).NotTo(BeNil())
	g.Expect(problem.reason).To(Equal(credentials.ReasonCABundleInvalid), "a ca.crt the runners could not trust their peers with")
}

// TestWebhookSecretIsCheckedAsTheRunnerParsesIt: a signing secret the runner could not
// sign with is reported before any delivery, naming the object, never the value.
func TestWebhookSecretIsCheckedAsTheRunnerParsesIt(t *testing.T) {
	ref := reference{Field: gateway.FieldWebhookSecret, Kind: gateway.KindSecret, Name: "hook", Keys: []string{gateway.KeyWebhookSecret}}
	good := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	cases := map[string]struct {
		data map[string][]byte
		ok   bool
	}{
		"a good secret":                 {map[string][]byte{gateway.KeyWebhookSecret: []byte(good)}, true},
		"a good secret and previous":    {map[string][]byte{gateway.KeyWebhookSecret: []byte(good), gateway.KeyPreviousWebhookSecret: []byte(good)}, true},
		"not base64":                    {map[string][]byte{gateway.KeyWebhookSecret: []byte("whsec_not-base64!leaky")}, false},
		"too short a key":               {map[string][]byte{gateway.KeyWebhookSecret: []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("leaky")))}, false},
		"a bad previous secret":         {map[string][]byte{gateway.KeyWebhookSecret: []byte(good), gateway.KeyPreviousWebhookSecret: []byte("leaky")}, false},
		"an over-long secret (bounded)": {map[string][]byte{gateway.KeyWebhookSecret: []byte("whsec_" + strings.Repeat("QUFB", 1024))}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := checkCredentials([]reference{ref}, map[gateway.Field]map[string][]byte{gateway.FieldWebhookSecret: tc.data}, time.Now())
			if tc.ok {
				if p != nil {
					t.Fatalf("refused: %+v", p)
				}
				return
			}
			if p == nil || p.reason != credentials.ReasonWebhookSecretInvalid {
				t.Fatalf("want %s, got %+v", credentials.ReasonWebhookSecretInvalid, p)
			}
			if !strings.Contains(p.message, `Secret "hook" named by spec.runner.webhook.signingSecretRef`) || strings.Contains(p.message, "leaky") {
				t.Fatalf("the message must name the object and never the value: %s", p.message)
			}
		})
	}
}
