package gateway_test

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

func TestReferencesListEveryNamedObjectWithItsFieldAndKeys(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	g.Expect(gateway.References(gw)).To(Equal([]gateway.Reference{
		{Field: gateway.FieldGeneratedToken, Kind: gateway.KindSecret, Name: "acme-escalation-token", Keys: []string{gateway.TokenKey}},
	}), "a bare gateway needs only its generated token")

	gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms"}}
	gw.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{
		CertificateSecretRef:        chatv1alpha1.SecretReference{Name: "entra"},
		PrivateKeyPasswordSecretRef: &chatv1alpha1.SecretReference{Name: "entra-pw"},
	}
	gw.Spec.Connection.TLS = &chatv1alpha1.TLS{
		CABundle:                   &chatv1alpha1.CABundleReference{Name: "ca"},
		ClientCertificateSecretRef: &chatv1alpha1.SecretReference{Name: "mtls"},
	}
	gw.Spec.Runner.EscalationTokenSecretRef = &chatv1alpha1.SecretReference{Name: "bot-token"}
	gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
	refs := gateway.References(gw)
	g.Expect(refs).To(Equal([]gateway.Reference{
		{gateway.FieldBasicAuth, gateway.KindSecret, "gms", []string{"username", "password"}},
		{gateway.FieldEntraCertificate, gateway.KindSecret, "entra", []string{"tls.crt"}},
		{gateway.FieldEntraKeyPassword, gateway.KindSecret, "entra-pw", []string{"password"}},
		{gateway.FieldCABundle, gateway.KindConfigMap, "ca", []string{"ca.crt"}},
		{gateway.FieldClientCertificate, gateway.KindSecret, "mtls", []string{"tls.crt", "tls.key"}},
		{gateway.FieldEscalationToken, gateway.KindSecret, "bot-token", []string{"token"}},
		{gateway.FieldAgentDirectory, gateway.KindConfigMap, "agents", []string{"agents.yaml"}},
	}))
	g.Expect(gateway.Names(refs, gateway.KindConfigMap)).To(Equal([]string{"ca", "agents"}))

	var tls []gateway.Field
	for _, r := range refs {
		if r.Field.IsTLS() {
			tls = append(tls, r.Field)
		}
	}
	g.Expect(tls).To(Equal([]gateway.Field{gateway.FieldCABundle, gateway.FieldClientCertificate}))

	gw.Spec.Connection.TLS.CABundle = &chatv1alpha1.CABundleReference{Kind: "Secret", Name: "ca-secret", Key: "bundle.pem"}
	g.Expect(gateway.References(gw)[3]).To(Equal(gateway.Reference{gateway.FieldCABundle, gateway.KindSecret, "ca-secret", []string{"bundle.pem"}}))
}

func TestNamesAndReplicas(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
	gw.Spec.Domain = "acme.example"
	g.Expect(gateway.Replicas(gw)).To(BeZero(), "not deployed: no runners")
	gw.Spec.Deploy = true
	g.Expect(gateway.Replicas(gw)).To(Equal(int32(1)), "deployed: one runner by default")
	three := int32(3)
	gw.Spec.Runner.Replicas = &three
	g.Expect(gateway.Replicas(gw)).To(Equal(int32(3)))
	g.Expect(gateway.RunnerPodName(gw, 2)).To(Equal("acme-runner-2"))
	g.Expect(gateway.Labels(gw)).To(HaveKeyWithValue(gateway.LabelManagedBy, gateway.ManagedBy))
	g.Expect(gateway.Labels(gw)).To(HaveKeyWithValue(gateway.LabelDomain, "acme.example"))
	g.Expect(gateway.SelectorLabels(gw)).To(Equal(map[string]string{gateway.LabelName: gateway.Component, gateway.LabelInstance: "acme"}))
}

func TestWebhookSigningSecretIsAReference(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://bot.example/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}}
	refs := gateway.References(gw)
	g.Expect(refs[len(refs)-1]).To(Equal(gateway.Reference{gateway.FieldWebhookSecret, gateway.KindSecret, "hook", []string{gateway.KeyWebhookSecret}}),
		"the runners' Role reads it, granted like any other")

	gw.Spec.Runner.Webhook.CABundle = &chatv1alpha1.CABundleReference{Name: "bot-ca"}
	refs = gateway.References(gw)
	g.Expect(refs[len(refs)-2:]).To(Equal([]gateway.Reference{
		{gateway.FieldWebhookSecret, gateway.KindSecret, "hook", []string{gateway.KeyWebhookSecret}},
		{gateway.FieldWebhookCABundle, gateway.KindConfigMap, "bot-ca", []string{gateway.KeyCABundle}},
	}))
	g.Expect(refs[len(refs)-1].Field.IsTLS()).To(BeFalse(), "not the transport to Genesys")
}
