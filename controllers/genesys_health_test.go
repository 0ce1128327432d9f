package controllers_test

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra/entratest"
)

// Probe timings of the runners of these specs: with the defaults (30 s idle, 10 s retry)
// an idle gateway shows an outage after about 20 s, far beyond what a spec should wait.
const (
	healthProbeInterval = time.Second
	healthProbeRetry    = 300 * time.Millisecond
	// healthBound is how soon Ready must turn False (or True again): a few probe retries,
	// the runner's status writes (at most one a second) and a reconcile, with room for a
	// loaded CI machine. With the default timings it could not hold.
	healthBound = 8 * time.Second
)

// entraBound is how soon a runner that cannot obtain an Entra ID token makes Ready False:
// each probe waits for a token up to the Chat API call timeout (10 s) before it fails, so
// three failures take about 30 s whatever the probe timings.
const entraBound = 3*10*time.Second + healthBound

var _ = Describe("Genesys health end to end: runners that Genesys does not answer make the gateway not Ready, as Argo CD and Flux see it", Ordered, func() {
	fast := func(change func(ns string, gw *chatv1alpha1.GenesysGateway)) fleetOptions {
		return fleetOptions{probeInterval: healthProbeInterval, probeRetry: healthProbeRetry, gateway: change}
	}
	// start starts runner 0 of f and marks it rolled out: Ready then says what Genesys
	// answers.
	start := func(f *fleet) time.Time {
		GinkgoHelper()
		started := time.Now()
		f.startReady(0)
		f.markRolledOut(1)
		return started
	}
	// unhealthy waits for Ready False with reason, checks what the GitOps tools make of it
	// and returns Ready.
	unhealthy := func(f *fleet, started time.Time, reason string, within time.Duration) *metav1.Condition {
		GinkgoHelper()
		var ready *metav1.Condition
		Eventually(func(g Gomega) {
			ready = readyOf(g, f.key)
			entries := f.gateway(g).Status.Runners
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), "runners: %s", failuresOf(entries))
			g.Expect(ready.Reason).To(Equal(reason))
		}).WithTimeout(within - time.Since(started)).Should(Succeed())
		GinkgoWriter.Printf("Ready False %s %v after the runner started\n", reason, time.Since(started))
		gw := f.gateway(Default)
		Expect(gw.Status.Runners).To(ConsistOf(HaveField("GenesysFailures", BeNumerically(">=", 3))))
		Expect(gw.Status.Runners[0].LastGenesysAnswerTime).To(BeNil(), "Genesys never answered")
		argo, flux := gitopsHealth(gw)
		Expect(argo).To(Equal("Degraded"), "Argo CD's health (config/gitops/argocd-health.lua)")
		Expect(flux).To(Equal("Failed"), "Flux's health check (kstatus and the healthCheckExprs of config/gitops/flux-kustomization.yaml)")
		return ready
	}
	// healthy waits for Ready True again, and Healthy / Current for the GitOps tools.
	healthy := func(f *fleet) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			gw := f.gateway(g)
			c := readyOf(g, f.key)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(chatv1alpha1.AvailableReason))
			argo, flux := gitopsHealth(gw)
			g.Expect(argo).To(Equal("Healthy"))
			g.Expect(flux).To(Equal("Current"))
		}).WithTimeout(healthBound).Should(Succeed())
	}

	// The gateway whose Entra ID token cannot be obtained starts first: its runner needs
	// about 30 s to fail three probes (entraBound), and the other specs run meanwhile.
	var (
		entraFleet     *fleet
		entraAuthority *entratest.Server
		entraStarted   time.Time
	)
	BeforeAll(func() {
		registered := entratest.NewClientCert(GinkgoTB(), entratest.CertOptions{})
		used := entratest.NewClientCert(GinkgoTB(), entratest.CertOptions{})
		entraAuthority = entratest.Start(entratest.Options{Trusted: []*x509.Certificate{registered.Leaf}})
		DeferCleanup(entraAuthority.Close)
		entraFleet = newFleetWith(1, fast(func(ns string, gw *chatv1alpha1.GenesysGateway) {
			Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "entra-cert", Labels: grantAll()},
				Data: map[string][]byte{"tls.crt": used.CertPEM, "tls.key": used.KeyPEM}})).To(Succeed())
			Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "private-ca", Labels: grantAll()},
				Data: map[string]string{"ca.crt": string(entraAuthority.CAPEM())}})).To(Succeed())
			gw.Spec.Connection.BasicAuth = nil
			gw.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{
				Authority: entraAuthority.Authority(), ClientID: entraAuthority.ClientID(), Scope: entraAuthority.Scope(),
				CertificateSecretRef: chatv1alpha1.SecretReference{Name: "entra-cert"},
			}
			gw.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Name: "private-ca"}}
		}))
		entraStarted = start(entraFleet)
	})

	It("reports a serviceURL that does not resolve as GenesysUnreachable with the resolver's error, and recovers on a working one", func() {
		var simURL string
		f := newFleetWith(1, fast(func(_ string, gw *chatv1alpha1.GenesysGateway) {
			simURL = gw.Spec.Connection.ServiceURL
			gw.Spec.Connection.ServiceURL = "https://gms.invalid:8443"
		}))
		ready := unhealthy(f, start(f), chatv1alpha1.GenesysUnreachableReason, healthBound)
		Expect(ready.Message).To(HavePrefix("Genesys did not answer the runners 3 times in a row: "))
		Expect(ready.Message).To(ContainSubstring(f.key.Name+"-runner-0: "), "the runner")
		Expect(ready.Message).To(ContainSubstring("lookup gms.invalid"), "the resolver's error")
		Expect(f.sim.Requests()).To(BeEmpty(), "nothing reached the simulator")

		By("pointing serviceURL at the simulator: Ready True on the first answer")
		updateGateway(f.key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Connection.ServiceURL = simURL })
		f.markRolledOut(1)
		healthy(f)
		Expect(f.sim.Chats()).To(BeEmpty(), "the probes created no chat")
	})

	It("reports Basic credentials that GMS refuses as AuthenticationFailed, and recovers once the Secret is fixed", func() {
		f := newFleetWith(1, fast(nil))
		setBasicPassword(f.key.Namespace, "not-the-password")
		ready := unhealthy(f, start(f), chatv1alpha1.AuthenticationFailedReason, healthBound)
		Expect(ready.Message).To(HavePrefix("Genesys refuses the runners' credentials: " + f.key.Name + "-runner-0: "))
		Expect(ready.Message).To(ContainSubstring("401"))
		Expect(ready.Message).NotTo(ContainSubstring("not-the-password"))
		Expect(meta.FindStatusCondition(f.gateway(Default).Status.Conditions, chatv1alpha1.GenesysReachableCondition)).
			To(HaveField("Reason", chatv1alpha1.AuthenticationFailedReason))

		By("fixing the password: the runner reads the Secret live, Ready True on the next probe")
		setBasicPassword(f.key.Namespace, gmsPassword)
		healthy(f)
	})

	It("reports an Entra ID token that cannot be obtained as AuthenticationFailed", func() {
		f := entraFleet
		ready := unhealthy(f, entraStarted, chatv1alpha1.AuthenticationFailedReason, entraBound)
		Expect(ready.Message).To(HavePrefix("Genesys refuses the runners' credentials: " + f.key.Name + "-runner-0: "))
		Expect(ready.Message).To(ContainSubstring("obtaining an Entra ID token for client " + entraAuthority.ClientID()))
		Expect(ready.Message).To(ContainSubstring("invalid_client"), "the authority's answer")
		Expect(entraAuthority.Rejections()).NotTo(BeEmpty(), "the authority refused the client")
		Expect(entraAuthority.Tokens()).To(BeEmpty())
		Expect(f.sim.Requests()).To(BeEmpty(), "no call went out without a token")
	})
})

// failuresOf describes the runners' failures in a row and last errors, for a failed wait.
func failuresOf(entries []chatv1alpha1.RunnerStatus) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s: %d failures, answered %v, updated %v, lastError %q; ", e.Pod, e.GenesysFailures, e.LastGenesysAnswerTime, e.UpdateTime, e.LastError)
	}
	return b.String()
}

// setBasicPassword sets the password of the fleet's Basic auth Secret.
func setBasicPassword(namespace, password string) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s := &corev1.Secret{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "gms-basic"}, s); err != nil {
			return err
		}
		s.Data["password"] = []byte(password)
		return k8sClient.Update(ctx, s)
	})).To(Succeed())
}

// gitopsHealth is what Argo CD and Flux make of a gateway. argo follows the rules of
// config/gitops/argocd-health.lua (Healthy, Progressing, Degraded, Suspended); flux is
// Current, InProgress or Failed as kstatus and the healthCheckExprs of
// config/gitops/flux-kustomization.yaml read the same fields (observedGeneration, Ready
// for the current generation, Reconciling and Stalled only while True). The root module
// has neither gopher-lua nor cli-utils: config/gitops's own tests run the script and the
// expressions, reasons included; this checks that the operator writes what they read.
func gitopsHealth(gw *chatv1alpha1.GenesysGateway) (argo, flux string) {
	conds := gw.Status.Conditions
	ready := meta.FindStatusCondition(conds, chatv1alpha1.ReadyCondition)
	reconciling := meta.IsStatusConditionTrue(conds, chatv1alpha1.ReconcilingCondition)
	stalled := meta.IsStatusConditionTrue(conds, chatv1alpha1.StalledCondition)
	current := gw.Status.ObservedGeneration >= gw.Generation && ready != nil && ready.ObservedGeneration == gw.Generation
	switch {
	case gw.Spec.Suspend:
		argo = "Suspended"
	case gw.Status.ObservedGeneration < gw.Generation:
		argo = "Progressing"
	case stalled:
		argo = "Degraded"
	case reconciling, !current:
		argo = "Progressing"
	case ready.Status == metav1.ConditionTrue:
		argo = "Healthy"
	case ready.Status == metav1.ConditionFalse:
		argo = "Degraded"
	default:
		argo = "Progressing"
	}
	switch {
	case stalled || current && ready.Status == metav1.ConditionFalse && !reconciling:
		flux = "Failed"
	case current && ready.Status == metav1.ConditionTrue && !reconciling:
		flux = "Current"
	default:
		flux = "InProgress"
	}
	return argo, flux
}
