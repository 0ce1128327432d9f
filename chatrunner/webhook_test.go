package chatrunner

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
)

func TestWebhookConfigIsReadFromTheSnapshot(t *testing.T) {
	g := NewWithT(t)
	current := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	previous := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	snap := &live.Snapshot{Gateway: gw, Secrets: map[string]*corev1.Secret{}}
	cfg := webhookConfig(func() *live.Snapshot { return snap })

	_, err := cfg()
	g.Expect(err).To(MatchError(webhook.ErrDisabled), "no webhook named")

	gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://bot.example/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"},
		TimeoutSeconds: 7, Events: []chatv1alpha1.WebhookEventKind{"message"}}
	_, err = cfg()
	g.Expect(err).To(MatchError(ContainSubstring(`"hook"`)), "the Secret is missing: retried, not disabled")
	g.Expect(err).NotTo(MatchError(webhook.ErrDisabled))

	snap.Secrets["hook"] = &corev1.Secret{Data: map[string][]byte{"secret": []byte("whsec_" + current + "\n")}}
	c, err := cfg()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c).To(Equal(webhook.Config{URL: "https://bot.example/hook", Keys: [][]byte{[]byte(strings.Repeat("a", 32))}, Timeout: 7 * time.Second, Kinds: []string{"message"}}))

	snap.Secrets["hook"].Data["secret.previous"] = []byte("whsec_" + previous)
	c, err = cfg()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Keys).To(Equal([][]byte{[]byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))}), "current first, then previous")

	snap.Secrets["hook"].Data["secret"] = []byte("not a secret")
	_, err = cfg()
	g.Expect(err).To(MatchError(ContainSubstring("whsec_")))
	g.Expect(err.Error()).NotTo(ContainSubstring("not a secret"), "never the value")
}
