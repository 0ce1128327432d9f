package controllers_test

import (
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra/entratest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

var _ = Describe("Entra ID client credentials end to end: a runner started as its pod, the Entra ID stand-in, a GMS proxy checking tokens", func() {
	It("authenticates with a token from an encrypted key, renews it, survives a slow authority and a certificate rotation, and leaks nothing", func() {
		const password = "k3y-pa55word-do-not-leak"
		ns := newNamespace()
		first := entratest.NewClientCert(GinkgoTB(), entratest.CertOptions{Intermediate: true})
		authority := entratest.Start(entratest.Options{Trusted: []*x509.Certificate{first.Leaf}, ExpiresIn: 3 * time.Second})
		DeferCleanup(authority.Close)
		sim := gmssim.New(gmssim.Options{
			ContextPath: "/proxy/genesys/chat/",
			Overrides:   map[gms.Operation]string{gms.OpStartTyping: "typingStart", gms.OpStopTyping: "typingStop"},
			BearerToken: authority.Valid,
		})
		srv := httptest.NewServer(sim)
		DeferCleanup(srv.Close)

		certSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "entra-cert", Labels: grantAll()}, Data: map[string][]byte{
			"tls.crt": first.CertPEM, "tls.key": first.EncryptedPKCS8PEM(GinkgoTB(), password)}}
		Expect(k8sClient.Create(ctx, certSecret)).To(Succeed())
		Expect(k8sClient.Create(ctx, newSecret(ns, "entra-key-password", map[string]string{"password": password}))).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "private-ca", Labels: grantAll()},
			Data: map[string]string{"ca.crt": string(authority.CAPEM())}})).To(Succeed())

		gw := entraGateway(ns, "globex")
		m := gw.Spec.Connection.MicrosoftClientCredentials
		m.Authority, m.ClientID, m.Scope = authority.Authority(), authority.ClientID(), authority.Scope()
		m.ContextPath = "/proxy/genesys/chat/"
		m.TokenTimeoutSeconds = 1
		gw.Spec.Connection.ServiceURL = srv.URL
		gw.Spec.Connection.EndpointOverrides = map[string]chatv1alpha1.PathSegment{"startTyping": "typingStart", "stopTyping": "typingStop"}
		gw.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Name: "private-ca"}}
		gw.Spec.APIRetry = chatv1alpha1.APIRetry{MaxAttempts: 6, InitialDelayMilliseconds: 500, Multiplier: ptr.To(resource.MustParse("2"))}
		key := create(gw)

		By("starting the runner as its pod would")
		runner, bot := runGateway(key)

		By("escalating: every Chat API call carries a valid bearer token, on the overridden paths")
		created, isNew, err := bot.client().Escalate(ctx, escalation.Request{
			ConversationID: "conv-entra", Domain: "acme", User: escalation.User{Name: "Jane"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(isNew).To(BeTrue(), "201 Created")
		id := created.ID
		var genesysID string
		Eventually(func(g Gomega) {
			c, err := bot.client().Chat(ctx, id)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(c.State).To(Equal(escalation.ChatWaitingForAgent))
			genesysID = c.GenesysChatID
		}).WithTimeout(chatTimeout).Should(Succeed())
		Expect(bot.client().Typing(ctx, id, true)).To(Succeed(), "204")
		requests := chatCalls(sim.Requests())
		Expect(requests[0].Path).To(Equal("/proxy/genesys/chat/customer-support"), "the Entra ID context path replaces the connection's")
		Expect(requests).To(ContainElement(HaveField("Path", "/proxy/genesys/chat/customer-support/"+genesysID+"/typingStart")))
		for _, r := range requests {
			Expect(authority.ValidBearer(r.Header.Get("Authorization"))).To(BeTrue(), "a valid bearer token on %s", r.Path)
		}

		By("renewing the token before it expires")
		Eventually(func() int { return len(authority.Tokens()) }).WithTimeout(chatTimeout).Should(BeNumerically(">=", 2))
		Eventually(func() string {
			r := sim.Requests()
			return r[len(r)-1].Header.Get("Authorization")
		}).WithTimeout(chatTimeout).Should(Equal("Bearer " + authority.Tokens()[len(authority.Tokens())-1]))

		By("a token endpoint slower than tokenTimeoutSeconds: reported, the chat waits, then recovers")
		authority.SetDelay(3 * time.Second)
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(getGateway(g, key).Status.Conditions, chatv1alpha1.GenesysReachableCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(chatv1alpha1.AuthenticationFailedReason))
			g.Expect(c.Message).To(ContainSubstring("tokenTimeoutSeconds"))
		}).WithTimeout(chatTimeout).Should(Succeed())
		authority.SetDelay(0)
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(getGateway(g, key).Status.Conditions, chatv1alpha1.GenesysReachableCondition)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}).WithTimeout(chatTimeout).Should(Succeed())
		c, err := bot.client().Chat(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.State).To(Equal(escalation.ChatWaitingForAgent), "the chat waited for a token instead of failing")

		By("rotating the certificate mid-chat (now a legacy encrypted PEM)")
		second := entratest.NewClientCert(GinkgoTB(), entratest.CertOptions{})
		authority.SetTrusted(first.Leaf, second.Leaf)
		certSecret.Data = map[string][]byte{"tls.crt": second.CertPEM, "tls.key": second.LegacyEncryptedPEM(GinkgoTB(), password)}
		Expect(k8sClient.Update(ctx, certSecret)).To(Succeed())
		Eventually(func(g Gomega) []chatv1alpha1.CredentialVersion {
			return entryOf(g, key, runner.pod).Credentials
		}).WithTimeout(chatTimeout).Should(ContainElement(chatv1alpha1.CredentialVersion{Kind: "Secret", Name: "entra-cert", ResourceVersion: certSecret.ResourceVersion}))
		authority.SetTrusted(second.Leaf) // the first certificate is revoked
		issued := len(authority.Tokens())
		Eventually(func() int { return len(authority.Tokens()) }).WithTimeout(chatTimeout).Should(BeNumerically(">", issued),
			"new tokens are obtained with the new certificate")
		Expect(sim.AgentJoin(genesysID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		Expect(sim.AgentMessage(genesysID, "Hello from behind the proxy")).To(Succeed())
		Eventually(func() []escalation.Event { return bot.events(id, 0) }).WithTimeout(chatTimeout).
			Should(ContainElement(HaveField("Text", "Hello from behind the proxy")), "the chat survived the rotation")

		By("finding no token, key or password in logs, status, events or metrics")
		secrets := append([]string{password, string(first.KeyPEM), string(second.KeyPEM), bot.token}, authority.Tokens()...)
		for _, r := range chatCalls(sim.Requests()) {
			if k := r.Form.Get("secureKey"); k != "" {
				secrets = append(secrets, k)
			}
		}
		gwJSON, err := json.Marshal(getGateway(Default, key))
		Expect(err).NotTo(HaveOccurred())
		var evs eventsv1.EventList
		Expect(k8sClient.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		evJSON, err := json.Marshal(evs)
		Expect(err).NotTo(HaveOccurred())
		for name, text := range map[string]string{"runner logs": runner.logs.String(), "status": string(gwJSON), "events": string(evJSON), "metrics": httpBody(runner.metrics + "/metrics")} {
			for _, s := range secrets {
				Expect(strings.Contains(text, s)).To(BeFalse(), "a secret appears in the %s", name)
			}
		}
	})
})
