package controllers_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers"
)

var _ = Describe("GenesysGateway reconciler", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	Context("with deploy: false", func() {
		It("runs no runners, generates an escalation token once and reports Ready NotDeployed", func() {
			gw := minimalGateway(namespace, "quiet")
			key := create(gw)

			expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
			gw = getGateway(Default, key)
			Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, chatv1alpha1.CredentialsReadyCondition)).To(BeTrue())
			for _, absent := range []string{chatv1alpha1.ReconcilingCondition, chatv1alpha1.StalledCondition, chatv1alpha1.RunnersAvailableCondition} {
				Expect(meta.FindStatusCondition(gw.Status.Conditions, absent)).To(BeNil(), absent)
			}
			Expect(gw.Status.DesiredRunners).To(BeZero())
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "quiet-runner"}, &appsv1.StatefulSet{})).
				To(Satisfy(apierrors.IsNotFound), "no StatefulSet")

			Expect(gw.Status.EscalationTokenSecretName).To(Equal("quiet-escalation-token"))
			token := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "quiet-escalation-token"}, token)).To(Succeed())
			Expect(metav1.IsControlledBy(token, gw)).To(BeTrue())
			Expect(len(token.Data["token"])).To(BeNumerically(">=", 26))

			_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
			Expect(err).NotTo(HaveOccurred())
			again := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(token), again)).To(Succeed())
			Expect(again.Data["token"]).To(Equal(token.Data["token"]), "the token is never regenerated")
		})
	})

	Context("with deploy: true", func() {
		var gw *chatv1alpha1.GenesysGateway
		var key client.ObjectKey
		BeforeEach(func() {
			Expect(k8sClient.Create(ctx, newSecret(namespace, "gms-basic", map[string]string{"username": "u", "password": "p"}))).To(Succeed())
			Expect(k8sClient.Create(ctx, newSecret(namespace, "bot-token", map[string]string{"token": "t"}))).To(Succeed())
			Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "agents", Labels: grantAll()},
				Data:       map[string]string{"agents.yaml": "jane@example.com: Jane\n"},
			})).To(Succeed())
			gw = minimalGateway(namespace, "acme")
			gw.Spec.Deploy = true
			gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
			gw.Spec.AgentOverride = chatv1alpha1.AgentOverrideLookupAgentByEmail
			gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
			gw.Spec.Runner = chatv1alpha1.Runner{
				Replicas:                 new(int32(2)),
				EscalationTokenSecretRef: &chatv1alpha1.SecretReference{Name: "bot-token"},
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
				},
				NodeSelector: map[string]string{"pool": "chat"},
				Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "chat", Effect: corev1.TaintEffectNoSchedule}},
			}
			key = create(gw)
		})

		It("applies every child with the expected content, owned by the gateway", func() {
			c := expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			Expect(c.Message).To(Equal("Waiting for runners: 0 of 2 ready"))
			gw = getGateway(Default, key)
			Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, chatv1alpha1.ReconcilingCondition)).To(BeTrue())
			Expect(gw.Status.DesiredRunners).To(Equal(int32(2)))

			sa := &corev1.ServiceAccount{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, sa)).To(Succeed())
			expectOwnedBy(sa, gw)

			role := &rbacv1.Role{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, role)).To(Succeed())
			expectOwnedBy(role, gw)
			Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{
				{APIGroups: []string{"chat.gatewayops.io"}, Resources: []string{"genesysgateways"}, ResourceNames: []string{"acme"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"chat.gatewayops.io"}, Resources: []string{"genesysgateways/status"}, ResourceNames: []string{"acme"}, Verbs: []string{"get", "patch"}},
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"bot-token", "gms-basic"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"agents"}, Verbs: []string{"get", "list", "watch"}},
				// The chat stores of both runners: 3 agents x 1000 chats are 10 shards each.
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{
					"acme-chats-0-0", "acme-chats-0-1", "acme-chats-0-2", "acme-chats-0-3", "acme-chats-0-4",
					"acme-chats-0-5", "acme-chats-0-6", "acme-chats-0-7", "acme-chats-0-8", "acme-chats-0-9",
					"acme-chats-1-0", "acme-chats-1-1", "acme-chats-1-2", "acme-chats-1-3", "acme-chats-1-4",
					"acme-chats-1-5", "acme-chats-1-6", "acme-chats-1-7", "acme-chats-1-8", "acme-chats-1-9",
				}, Verbs: []string{"get", "update", "patch"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"acme-chats-0", "acme-chats-1"},
					Verbs: []string{"get", "list", "watch", "update", "patch"}},
				{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			}))

			binding := &rbacv1.RoleBinding{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, binding)).To(Succeed())
			expectOwnedBy(binding, gw)
			Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "acme-runner"}))
			Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "acme-runner", Namespace: namespace}}))

			selector := map[string]string{"app.kubernetes.io/name": "chat-runner", "app.kubernetes.io/instance": "acme"}
			headless := &corev1.Service{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runners"}, headless)).To(Succeed())
			expectOwnedBy(headless, gw)
			Expect(headless.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
			Expect(headless.Spec.Selector).To(Equal(selector))
			escalations := &corev1.Service{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-escalations"}, escalations)).To(Succeed())
			expectOwnedBy(escalations, gw)
			Expect(escalations.Spec.Selector).To(Equal(selector))
			Expect(escalations.Spec.Ports).To(HaveLen(1))
			Expect(escalations.Spec.Ports[0].Port).To(Equal(int32(80)))
			Expect(escalations.Spec.Ports[0].TargetPort).To(Equal(intstr.FromString("http")))

			sts := &appsv1.StatefulSet{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, sts)).To(Succeed())
			expectOwnedBy(sts, gw)
			Expect(sts.Labels).To(HaveKeyWithValue("chat.gatewayops.io/domain", "acme"))
			Expect(*sts.Spec.Replicas).To(Equal(int32(2)))
			Expect(sts.Spec.ServiceName).To(Equal("acme-runners"))
			Expect(sts.Spec.Selector.MatchLabels).To(Equal(selector))
			pod := sts.Spec.Template.Spec
			Expect(pod.ServiceAccountName).To(Equal("acme-runner"))
			Expect(*pod.TerminationGracePeriodSeconds).To(Equal(int64(60)))
			Expect(pod.NodeSelector).To(Equal(map[string]string{"pool": "chat"}))
			Expect(pod.Tolerations).To(Equal(gw.Spec.Runner.Tolerations))
			// The restricted Pod Security Standard.
			Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
			Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
			Expect(pod.Containers).To(HaveLen(1))
			runner := pod.Containers[0]
			Expect(*runner.SecurityContext.AllowPrivilegeEscalation).To(BeFalse())
			Expect(runner.SecurityContext.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
			Expect(*runner.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
			Expect(runner.Image).To(Equal(testImage))
			Expect(runner.Command).To(Equal([]string{"/manager"}))
			Expect(runner.Args).To(ContainElements("chat-runner", "--gateway="+namespace+"/acme"))
			Expect(runner.Resources).To(Equal(*gw.Spec.Runner.Resources))
			Expect(runner.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
			Expect(runner.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
			// Nothing of a Secret reaches the pod template: runners read them live.
			templateJSON, err := json.Marshal(sts.Spec.Template)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(templateJSON)).NotTo(ContainSubstring("gms-basic"))
			Expect(string(templateJSON)).NotTo(ContainSubstring("bot-token"))
		})

		It("becomes Ready when every runner is ready, with an event", func() {
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			rollOut(client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, 2)

			c := expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)
			Expect(c.Message).To(Equal("2 of 2 runners ready"))
			gw = getGateway(Default, key)
			Expect(gw.Status.ReadyRunners).To(Equal(int32(2)))
			Expect(meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReconcilingCondition)).To(BeNil())
			Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, chatv1alpha1.RunnersAvailableCondition)).To(BeTrue())
			Eventually(func(g Gomega) {
				g.Expect(eventsOf(g, key)).To(ContainElement(SatisfyAll(
					HaveField("Type", corev1.EventTypeNormal),
					HaveField("Reason", chatv1alpha1.AvailableReason),
					HaveField("Note", "2 of 2 runners ready"))))
			}).Should(Succeed())
		})

		It("removes the runners when deploy turns false", func() {
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			gw = updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Deploy = false })

			expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
			for _, obj := range []client.Object{&appsv1.StatefulSet{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &corev1.ServiceAccount{}} {
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, obj)).To(Satisfy(apierrors.IsNotFound), "%T", obj)
			}
			for _, name := range []string{"acme-runners", "acme-escalations"} {
				Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.Service{})).To(Satisfy(apierrors.IsNotFound), name)
			}
		})

		It("does not restart runners when a referenced Secret rotates", func() {
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			stsKey := client.ObjectKey{Namespace: namespace, Name: "acme-runner"}
			before := &appsv1.StatefulSet{}
			Expect(k8sClient.Get(ctx, stsKey, before)).To(Succeed())

			rotated := newSecret(namespace, "gms-basic", map[string]string{"username": "u", "password": "rotated"})
			Expect(k8sClient.Update(ctx, rotated)).To(Succeed())
			_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
			Expect(err).NotTo(HaveOccurred())

			after := &appsv1.StatefulSet{}
			Expect(k8sClient.Get(ctx, stsKey, after)).To(Succeed())
			Expect(after.Generation).To(Equal(before.Generation))
			Expect(after.Spec.Template).To(Equal(before.Spec.Template))
		})

		It("writes nothing when reconciling an unchanged gateway", func() {
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			rollOut(client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, 2)
			expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)

			objs := []client.Object{&chatv1alpha1.GenesysGateway{}, &appsv1.StatefulSet{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &corev1.ServiceAccount{}}
			names := []string{"acme", "acme-runner", "acme-runner", "acme-runner", "acme-runner"}
			versions := func() []string {
				var v []string
				for i, obj := range objs {
					Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: names[i]}, obj)).To(Succeed())
					v = append(v, obj.GetResourceVersion())
				}
				return v
			}
			was := versions()
			writesBefore := writes.In(namespace)
			for range 3 {
				_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(writes.In(namespace)).To(Equal(writesBefore), "write requests")
			Expect(versions()).To(Equal(was), "resource versions")
		})

		It("leaves a suspended gateway alone and catches up when resumed", func() {
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			stsKey := client.ObjectKey{Namespace: namespace, Name: "acme-runner"}
			observed := getGateway(Default, key).Status.ObservedGeneration
			gw = updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Suspend = true
				gw.Spec.Runner.Replicas = new(int32(3))
			})

			_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
			Expect(err).NotTo(HaveOccurred())
			sts := &appsv1.StatefulSet{}
			Expect(k8sClient.Get(ctx, stsKey, sts)).To(Succeed())
			Expect(*sts.Spec.Replicas).To(Equal(int32(2)))
			Expect(getGateway(Default, key).Status.ObservedGeneration).To(Equal(observed))

			gw = updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Suspend = false })
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(ctx, stsKey, sts)).To(Succeed())
				g.Expect(*sts.Spec.Replicas).To(Equal(int32(3)))
			}).Should(Succeed())
			c := expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			Expect(c.Message).To(Equal("Waiting for runners: 0 of 3 ready"))
		})
	})

	Context("with a missing Secret", func() {
		It("reports it by name, never by content, and recovers as soon as it is complete", func() {
			gw := minimalGateway(namespace, "pending")
			gw.Spec.Deploy = true
			gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
			key := create(gw)

			c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretNotFoundReason)
			Expect(c.Message).To(Equal(`Secret "gms-basic" named by spec.connection.basicAuth.secretRef not found`))
			gw = getGateway(Default, key)
			credentials := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.CredentialsReadyCondition)
			Expect(credentials.Status).To(Equal(metav1.ConditionFalse))
			Expect(credentials.Reason).To(Equal(chatv1alpha1.SecretNotFoundReason))
			Eventually(func(g Gomega) {
				g.Expect(eventsOf(g, key)).To(ContainElement(SatisfyAll(
					HaveField("Type", corev1.EventTypeWarning),
					HaveField("Reason", chatv1alpha1.SecretNotFoundReason),
					HaveField("Note", c.Message))))
			}).Should(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "pending-runner"}, &appsv1.StatefulSet{})).
				To(Satisfy(apierrors.IsNotFound), "no runners without credentials")
			generation := gw.Generation

			const password = "s3cr3t-Pa55word"
			secret := newSecret(namespace, "gms-basic", map[string]string{"username": password})
			Expect(k8sClient.Create(ctx, secret)).To(Succeed())
			c = expectReady(key, metav1.ConditionFalse, chatv1alpha1.SecretKeyMissingReason)
			Expect(c.Message).To(Equal(`Secret "gms-basic" named by spec.connection.basicAuth.secretRef has no key "password"`))

			secret.StringData = map[string]string{"username": "bot", "password": password}
			Expect(k8sClient.Update(ctx, secret)).To(Succeed())
			expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
			gw = getGateway(Default, key)
			Expect(gw.Generation).To(Equal(generation), "recovered without any change to the gateway")
			Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, chatv1alpha1.CredentialsReadyCondition)).To(BeTrue())

			status, err := json.Marshal(gw.Status)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(status)).NotTo(ContainSubstring(password))
			events, err := json.Marshal(eventsOf(Default, key))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(events)).NotTo(ContainSubstring(password))
		})
	})

	It("bumps observedGeneration on status and conditions when the spec changes", func() {
		gw := minimalGateway(namespace, "evolving")
		key := create(gw)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.PollingIntervalSeconds = 5 })
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(gw.Generation).To(Equal(int64(2)))
			g.Expect(gw.Status.ObservedGeneration).To(Equal(int64(2)))
			for _, c := range gw.Status.Conditions {
				g.Expect(c.ObservedGeneration).To(Equal(int64(2)), c.Type)
			}
		}).Should(Succeed())
	})

	It("serves only the gateways of its gateway service", func() {
		gw := minimalGateway(namespace, "sharded")
		gw.Spec.GatewayService = "shard-b"
		key := create(gw)

		_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		gw = getGateway(Default, key)
		Expect(gw.Status.ObservedGeneration).To(Equal(int64(-1)), "the default operator leaves it alone")
		Expect(gw.Status.Conditions).To(BeEmpty())

		shardB := &controllers.GatewayReconciler{
			Client: k8sClient, APIReader: k8sClient, Recorder: reconciler.Recorder,
			RunnerImage: testImage, GatewayService: "shard-b",
		}
		_, err = shardB.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		c := readyOf(Default, key)
		Expect(c.Reason).To(Equal(chatv1alpha1.NotDeployedReason))
	})

	It("stalls, with a terminal error, when no runner image is known", func() {
		gw := minimalGateway(namespace, "imageless")
		gw.Spec.GatewayService = "no-image"
		key := create(gw)

		noImage := &controllers.GatewayReconciler{
			Client: k8sClient, APIReader: k8sClient, Recorder: reconciler.Recorder, GatewayService: "no-image",
		}
		_, err := noImage.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(errors.Is(err, reconcile.TerminalError(nil))).To(BeTrue(), "terminal: %v", err)
		c := readyOf(Default, key)
		Expect(c.Status).To(Equal(metav1.ConditionFalse))
		Expect(c.Reason).To(Equal(chatv1alpha1.InvalidConfigurationReason))
		Expect(c.Message).To(ContainSubstring("--runner-image"))
		stalled := meta.FindStatusCondition(getGateway(Default, key).Status.Conditions, chatv1alpha1.StalledCondition)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
	})
})

// expectOwnedBy checks that the gateway is the object's one controlling owner.
func expectOwnedBy(obj client.Object, gw *chatv1alpha1.GenesysGateway) {
	GinkgoHelper()
	Expect(obj.GetOwnerReferences()).To(HaveLen(1))
	Expect(metav1.IsControlledBy(obj, gw)).To(BeTrue())
	Expect(*obj.GetOwnerReferences()[0].BlockOwnerDeletion).To(BeTrue())
}

// rollOut plays the StatefulSet controller, which envtest lacks: all replicas of the
// current revision ready.
func rollOut(key client.ObjectKey, replicas int32) {
	GinkgoHelper()
	sts := &appsv1.StatefulSet{}
	Expect(k8sClient.Get(ctx, key, sts)).To(Succeed())
	sts.Status = appsv1.StatefulSetStatus{
		ObservedGeneration: sts.Generation, Replicas: replicas, ReadyReplicas: replicas,
		CurrentReplicas: replicas, UpdatedReplicas: replicas, AvailableReplicas: replicas,
	}
	Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
}
