package controllers_test

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

var _ = Describe("Webhook delivery end to end: a runner started as its pod signs and posts a chat's events", func() {
	It("delivers every event, signed with the granted secret, to a receiver with a private CA", func() {
		ns := newNamespace()
		sim := gmssim.New(gmssim.Options{})
		gmsSrv := httptest.NewServer(sim)
		DeferCleanup(gmsSrv.Close)

		const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		verifier, err := standardwebhooks.NewWebhook(secret)
		Expect(err).NotTo(HaveOccurred())
		var mu sync.Mutex
		var kinds []string
		var ids []string
		hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if verifier.Verify(body, r.Header) != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			var p struct {
				Event struct{ Kind string } `json:"event"`
			}
			_ = json.Unmarshal(body, &p)
			mu.Lock()
			kinds, ids = append(kinds, p.Event.Kind), append(ids, r.Header.Get("webhook-id"))
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}))
		DeferCleanup(hook.Close)
		received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), kinds...) }

		Expect(k8sClient.Create(ctx, newSecret(ns, "bot-hook", map[string]string{"secret": secret}))).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bot-ca", Labels: grantAll()},
			Data: map[string]string{"ca.crt": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw}))}})).To(Succeed())
		gw := minimalGateway(ns, "acme")
		gw.Spec.Deploy = true
		gw.Spec.Connection.ServiceURL = gmsSrv.URL
		gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{
			URL:              hook.URL + "/genesys/events",
			SigningSecretRef: chatv1alpha1.SecretReference{Name: "bot-hook"},
			CABundle:         &chatv1alpha1.CABundleReference{Name: "bot-ca"},
		}
		key := create(gw)
		_, bot := runGateway(key)

		created, _, err := bot.client().Escalate(ctx, escalation.Request{ConversationID: "conv-hook", Domain: "acme", User: escalation.User{FirstName: "Jane"}})
		Expect(err).NotTo(HaveOccurred())
		var genesysID string
		Eventually(func(g Gomega) {
			c, err := bot.client().Chat(ctx, created.ID)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(c.GenesysChatID).NotTo(BeEmpty())
			genesysID = c.GenesysChatID
		}).WithTimeout(chatTimeout).Should(Succeed())
		Expect(sim.AgentJoin(genesysID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		Expect(sim.AgentMessage(genesysID, "Hello")).To(Succeed())
		Expect(sim.Close(genesysID)).To(Succeed())

		Eventually(received).WithTimeout(chatTimeout).Should(ContainElement("ended"), "the receiver verified every delivery it took")
		Expect(received()).To(ContainElements("agentJoined", "message"))
		mu.Lock()
		Expect(ids[0]).To(Equal(created.ID + ":1"))
		mu.Unlock()
		Eventually(func(g Gomega) {
			st := getGateway(g, key).Status
			g.Expect(st.Runners).To(HaveLen(1))
			g.Expect(st.Runners[0].WebhookDelivered).To(BeNumerically(">=", 4))
			g.Expect(st.Runners[0].WebhookFailed).To(BeZero())
		}).WithTimeout(chatTimeout).Should(Succeed(), "counted in the runner's status entry")
	})
})
