package controllers_test

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// howToGrantAcme is the end of the message refusing an object not granted to gateway acme.
const howToGrantAcme = `label it chat.gatewayops.io/grant=listed and add "acme" to its annotation chat.gatewayops.io/gateways ` +
	`(comma-separated gateway names), or label it chat.gatewayops.io/grant=all to grant it to every gateway of the namespace`

var _ = Describe("Grants of Secrets and ConfigMaps", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	It("refuses a Secret that is only named, keeps it out of the runners' reach, and grants it once labelled, without a restart", func() {
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Deploy = true
		key := create(gw)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		before := runnerStatefulSet(key)
		runner := runnerClient(key)

		const password = "n0t-f0r-the-author"
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "gms-basic"},
			Type:       corev1.SecretTypeBasicAuth,
			StringData: map[string]string{"username": "bot", "password": password},
		}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		secretKey := client.ObjectKeyFromObject(secret)
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
		})

		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretNotGrantedReason)
		Expect(c.Message).To(Equal(`Secret "gms-basic" named by spec.connection.basicAuth.secretRef is not granted to gateway "acme": ` + howToGrantAcme))
		Expect(c.Message).NotTo(ContainSubstring(password))
		credentials := meta.FindStatusCondition(getGateway(Default, key).Status.Conditions, chatv1alpha1.CredentialsReadyCondition)
		Expect(credentials.Status).To(Equal(metav1.ConditionFalse))
		Expect(credentials.Reason).To(Equal(chatv1alpha1.SecretNotGrantedReason))
		Expect(credentials.Message).To(Equal(c.Message))
		Expect(roleNames(Default, key, "secrets")).To(Equal([]string{"acme-escalation-token"}), "the Role does not name it")
		Expect(runner.Get(ctx, secretKey, &corev1.Secret{})).To(Satisfy(apierrors.IsForbidden), "the runner may not read it")

		By("labelling the Secret")
		setGrant(secret, map[string]string{gateway.LabelGrant: gateway.GrantAll}, nil)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Eventually(func(g Gomega) []string { return roleNames(g, key, "secrets") }).
			Should(Equal([]string{"acme-escalation-token", "gms-basic"}))
		Eventually(func() error { return runner.Get(ctx, secretKey, &corev1.Secret{}) }).Should(Succeed())
		expectTemplateUnchanged(key, before)

		By("withdrawing the grant while the runners run")
		setGrant(secret, nil, nil)
		expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretNotGrantedReason)
		Eventually(func(g Gomega) []string { return roleNames(g, key, "secrets") }).
			Should(Equal([]string{"acme-escalation-token"}), "the Role no longer names it")
		Eventually(func() error { return runner.Get(ctx, secretKey, &corev1.Secret{}) }).Should(Satisfy(apierrors.IsForbidden))
		Expect(runner.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-escalation-token"}, &corev1.Secret{})).
			To(Succeed(), "what is still granted stays readable")
		expectTemplateUnchanged(key, before)
	})

	It("grants a Secret labelled listed only to the gateways its annotation names", func() {
		labels, annotations := gateway.GrantListedTo("globex", "initech")
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "bot-token", Labels: labels, Annotations: annotations},
			StringData: map[string]string{"token": "t"},
		})).To(Succeed())
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Runner.EscalationTokenSecretRef = &chatv1alpha1.SecretReference{Name: "bot-token"}
		key := create(gw)

		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretNotGrantedReason)
		Expect(c.Message).To(Equal(`Secret "bot-token" named by spec.runner.escalationTokenSecretRef is not granted to gateway "acme": ` + howToGrantAcme))

		setGrant(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "bot-token"}},
			labels, map[string]string{gateway.AnnotationGateways: "globex, acme"})
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
	})

	It("tells nothing of the keys of a Secret that is not granted", func() {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "someone-elses"},
			StringData: map[string]string{"username": "u"},
		})).To(Succeed())
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "someone-elses"}}
		key := create(gw)
		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretNotGrantedReason)
		Expect(c.Message).To(Equal(`Secret "someone-elses" named by spec.connection.basicAuth.secretRef is not granted to gateway "acme": `+howToGrantAcme),
			"not SecretKeyMissing: its keys are none of the author's business")
	})

	It("refuses a ConfigMap that is not granted, creating no runner objects, until it is granted", func() {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "agents"},
			Data:       map[string]string{"agents.yaml": "jane@example.com: Jane\n"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Deploy = true
		gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
		key := create(gw)

		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.ConfigMapNotGrantedReason)
		Expect(c.Message).To(Equal(`ConfigMap "agents" named by spec.agentDirectory is not granted to gateway "acme": ` + howToGrantAcme))
		Expect(meta.FindStatusCondition(getGateway(Default, key).Status.Conditions, chatv1alpha1.CredentialsReadyCondition).Reason).
			To(Equal(chatv1alpha1.ConfigMapNotGrantedReason))
		for _, obj := range []client.Object{&rbacv1.Role{}, &appsv1.StatefulSet{}} {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, obj)).
				To(Satisfy(apierrors.IsNotFound), "%T: none before every reference resolves", obj)
		}

		labels, annotations := gateway.GrantListedTo("acme")
		setGrant(cm, labels, annotations)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		Expect(roleNames(Default, key, "configmaps")).To(Equal([]string{"agents"}))
	})

	It("grants the escalation token it generates to its own gateway only, and keeps it granted", func() {
		key := create(minimalGateway(namespace, "acme"))
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
		token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "acme-escalation-token"}}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(token), token)).To(Succeed())
		Expect(token.Labels).To(HaveKeyWithValue(gateway.LabelGrant, gateway.GrantListed))
		Expect(token.Annotations).To(HaveKeyWithValue(gateway.AnnotationGateways, "acme"))

		By("another gateway naming it")
		other := minimalGateway(namespace, "globex")
		other.Spec.Runner.EscalationTokenSecretRef = &chatv1alpha1.SecretReference{Name: "acme-escalation-token"}
		otherKey := create(other)
		c := expectReady(otherKey, metav1.ConditionFalse, chatv1alpha1.SecretNotGrantedReason)
		Expect(c.Message).To(HavePrefix(`Secret "acme-escalation-token" named by spec.runner.escalationTokenSecretRef is not granted to gateway "globex": `))

		By("removing the grant of the generated token")
		setGrant(token, nil, nil)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(token), token)).To(Succeed())
			g.Expect(gateway.Granted(token.Labels, token.Annotations, "acme")).To(BeTrue())
		}).Should(Succeed(), "the operator grants its own token again")
		Expect(gateway.Granted(token.Labels, token.Annotations, "globex")).To(BeFalse())
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
	})

	It("accepts the standard Secret types: kubernetes.io/tls for a client certificate", func() {
		cert := testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{})
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "gms-client", Labels: grantAll()},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: cert.CertPEM, corev1.TLSPrivateKeyKey: cert.KeyPEM},
		})).To(Succeed())
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Connection.TLS = &chatv1alpha1.TLS{ClientCertificateSecretRef: &chatv1alpha1.SecretReference{Name: "gms-client"}}
		key := create(gw)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
	})
})

// setGrant sets the labels and annotations of a Secret or ConfigMap, nil removing them all.
func setGrant(obj client.Object, labels, annotations map[string]string) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	obj.SetLabels(labels)
	obj.SetAnnotations(annotations)
	Expect(k8sClient.Patch(ctx, obj, patch)).To(Succeed())
}

// roleNames returns the names the runner Role of a gateway lets the runners read of a
// resource (secrets, configmaps): its read rule, not the rule of the chat stores.
func roleNames(g Gomega, key client.ObjectKey, resource string) []string {
	role := &rbacv1.Role{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name + "-runner"}, role)).To(Succeed())
	var names []string
	for _, rule := range role.Rules {
		if len(rule.Resources) == 1 && rule.Resources[0] == resource && slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) {
			names = append(names, rule.ResourceNames...)
		}
	}
	return names
}

// expectTemplateUnchanged checks that the runner StatefulSet was not changed since before:
// no runner pod restarted.
func expectTemplateUnchanged(key client.ObjectKey, before *appsv1.StatefulSet) {
	GinkgoHelper()
	after := runnerStatefulSet(key)
	Expect(after.Generation).To(Equal(before.Generation), "StatefulSet generation")
	Expect(after.Spec.Template).To(Equal(before.Spec.Template), "pod template")
}
