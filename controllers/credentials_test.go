package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// entraGateway is a deployed gateway with Microsoft client credentials from Secret
// entra-cert (and its key's password from entra-key-password).
func entraGateway(namespace, name string) *chatv1alpha1.GenesysGateway {
	gw := minimalGateway(namespace, name)
	gw.Spec.Deploy = true
	gw.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{
		Authority:                   "https://login.example.com/tenant",
		ClientID:                    "gateway-client",
		Scope:                       "api://gms-proxy/.default",
		CertificateSecretRef:        chatv1alpha1.SecretReference{Name: "entra-cert"},
		PrivateKeyPasswordSecretRef: &chatv1alpha1.SecretReference{Name: "entra-key-password"},
	}
	return gw
}

var _ = Describe("Credentials checked before runners start", func() {
	const password = "k3y-pa55word"
	var good *testcerts.ClientCert
	BeforeEach(func() { good = testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{}) })

	DescribeTable("a certificate Secret that cannot work is reported with its reason, and no runner starts",
		func(reason string, certPEM, keyPEM func() []byte, message string) {
			namespace := newNamespace()
			Expect(k8sClient.Create(ctx, newSecret(namespace, "entra-key-password", map[string]string{"password": password}))).To(Succeed())
			cert := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "entra-cert", Labels: grantAll()},
				Data: map[string][]byte{"tls.crt": certPEM(), "tls.key": keyPEM()}}
			Expect(k8sClient.Create(ctx, cert)).To(Succeed())
			key := create(entraGateway(namespace, "entra"))

			c := expectReady(key, metav1.ConditionFalse, reason)
			Expect(c.Message).To(HavePrefix(`Secret "entra-cert" named by spec.connection.microsoftClientCredentials.certificateSecretRef: `))
			Expect(c.Message).To(ContainSubstring(message))
			Expect(c.Message).NotTo(ContainSubstring(password))
			gw := getGateway(Default, key)
			Expect(gw.Status.DesiredRunners).To(BeZero(), "no runner without working credentials")

			By("recovering once the Secret is fixed")
			cert.Data = map[string][]byte{"tls.crt": good.CertPEM, "tls.key": good.EncryptedPKCS8PEM(GinkgoTB(), password)}
			Expect(k8sClient.Update(ctx, cert)).To(Succeed())
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		},
		Entry("not PEM", credentials.ReasonCertificateInvalid,
			func() []byte { return []byte("not a certificate") }, func() []byte { return good.KeyPEM }, "certificate"),
		Entry("a key of another certificate", credentials.ReasonPrivateKeyMismatch,
			func() []byte { return good.CertPEM },
			func() []byte { return testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{}).KeyPEM }, "match"),
		Entry("a wrong password (encrypted PKCS#8)", credentials.ReasonPrivateKeyPassword,
			func() []byte { return good.CertPEM }, func() []byte { return good.EncryptedPKCS8PEM(GinkgoTB(), "other") }, "password"),
		Entry("a wrong password (legacy encrypted PEM)", credentials.ReasonPrivateKeyPassword,
			func() []byte { return good.CertPEM }, func() []byte { return good.LegacyEncryptedPEM(GinkgoTB(), "other") }, "password"),
		Entry("an expired certificate", credentials.ReasonCertificateExpired,
			func() []byte { return expiredCert.CertPEM }, func() []byte { return expiredCert.KeyPEM }, "expired"),
		Entry("an ECDSA key, which Entra ID assertions cannot use", credentials.ReasonPrivateKeyInvalid,
			func() []byte { return ecdsaCert.CertPEM }, func() []byte { return ecdsaCert.KeyPEM }, "RSA"),
	)

	It("refuses a CA bundle without a certificate", func() {
		namespace := newNamespace()
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "private-ca", Labels: grantAll()},
			Data: map[string]string{"ca.crt": "-----BEGIN NOTHING-----"}})).To(Succeed())
		gw := minimalGateway(namespace, "ca")
		gw.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Name: "private-ca"}}
		key := create(gw)
		c := expectReady(key, metav1.ConditionFalse, credentials.ReasonCABundleInvalid)
		Expect(c.Message).To(HavePrefix(`ConfigMap "private-ca" named by spec.connection.tls.caBundle: `))
	})
})

// Certificates of the table above: one with an ECDSA key, one expired an hour ago.
var ecdsaCert, expiredCert *testcerts.ClientCert

var _ = BeforeEach(func() {
	if ecdsaCert == nil {
		ecdsaCert = testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{ECDSA: true})
		expiredCert = testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	}
}, OncePerOrdered)
