package controllers_test

import (
	"fmt"
	"slices"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The durable chat stores the operator keeps for the runners: a Lease and shard Secrets
// per runner ordinal, made of metadata only; the runners write the data.
var _ = Describe("Chat stores", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	// deployed is a gateway of replicas runners whose store has shards shards each
	// (ChatsPerShard chats per shard, one agent).
	deployed := func(name string, replicas, shards int32) *chatv1alpha1.GenesysGateway {
		gw := minimalGateway(namespace, name)
		gw.Spec.Deploy = true
		gw.Spec.Runner.Replicas = new(replicas)
		gw.Spec.AgentsPerNode = 1
		gw.Spec.Runner.MaxChatsPerAgent = 320 * shards
		return gw
	}
	shardKey := func(gw string, ordinal, shard int) client.ObjectKey {
		return client.ObjectKey{Namespace: namespace, Name: fmt.Sprintf("%s-chats-%d-%d", gw, ordinal, shard)}
	}
	leaseKey := func(gw string, ordinal int) client.ObjectKey {
		return client.ObjectKey{Namespace: namespace, Name: fmt.Sprintf("%s-chats-%d", gw, ordinal)}
	}
	// storeRules returns the runner Role's rules on the chat stores: Secrets it may write,
	// Leases.
	storeRules := func(g Gomega, gw string) (shards, leases []string) {
		role := &rbacv1.Role{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gw + "-runner"}, role)).To(Succeed())
		for _, rule := range role.Rules {
			switch {
			case slices.Equal(rule.Resources, []string{"secrets"}) && slices.Equal(rule.Verbs, []string{"get", "update", "patch"}):
				shards = append(shards, rule.ResourceNames...)
			case slices.Equal(rule.Resources, []string{"leases"}):
				g.Expect(rule.APIGroups).To(Equal([]string{"coordination.k8s.io"}))
				g.Expect(rule.Verbs).To(Equal([]string{"get", "list", "watch", "update", "patch"}))
				leases = append(leases, rule.ResourceNames...)
			}
			for _, res := range rule.Resources {
				if res == "secrets" || res == "leases" {
					g.Expect(rule.Verbs).NotTo(ContainElement("create"), "the runners create no %s", res)
					g.Expect(rule.Verbs).NotTo(ContainElement("*"))
					g.Expect(rule.ResourceNames).NotTo(BeEmpty(), "%s by name only", res)
				}
			}
		}
		return shards, leases
	}
	// writeShard writes a shard as a runner would: a record and the count of chats, with a
	// JSON merge patch.
	writeShard := func(key client.ObjectKey, chats int, data map[string][]byte) {
		GinkgoHelper()
		shard := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, key, shard)).To(Succeed())
		patch := client.MergeFrom(shard.DeepCopy())
		if shard.Annotations == nil {
			shard.Annotations = map[string]string{}
		}
		shard.Annotations["chat.gatewayops.io/chats"] = strconv.Itoa(chats)
		if data != nil {
			shard.Data = data
		}
		Expect(k8sClient.Patch(ctx, shard, patch, client.FieldOwner("chat-runner"))).To(Succeed())
	}
	expectGone := func(key client.ObjectKey, obj client.Object) {
		GinkgoHelper()
		Eventually(func() error { return k8sClient.Get(ctx, key, obj) }).Should(Satisfy(apierrors.IsNotFound), key.Name)
	}
	chatStores := func(g Gomega, key client.ObjectKey) []int32 { return getGateway(g, key).Status.ChatStores }

	It("gives every runner a Lease and shards, owned by the gateway, granted by name and listed in the status", func() {
		key := create(deployed("acme", 2, 2))
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0, 1}))
		gw := getGateway(Default, key)
		for o := range 2 {
			lease := &coordinationv1.Lease{}
			Expect(k8sClient.Get(ctx, leaseKey("acme", o), lease)).To(Succeed())
			expectOwnedBy(lease, gw)
			Expect(lease.Labels).To(HaveKeyWithValue("chat.gatewayops.io/store", "chats"))
			Expect(lease.Labels).To(HaveKeyWithValue("chat.gatewayops.io/ordinal", strconv.Itoa(o)))
			Expect(lease.Labels).To(HaveKeyWithValue("chat.gatewayops.io/gateway", "acme"))
			Expect(lease.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "genesys-gateway-operator"))
			Expect(lease.Spec).To(Equal(coordinationv1.LeaseSpec{}), "the runners hold the Lease")
			for s := range 2 {
				shard := &corev1.Secret{}
				Expect(k8sClient.Get(ctx, shardKey("acme", o, s), shard)).To(Succeed())
				expectOwnedBy(shard, gw)
				Expect(shard.Labels).To(Equal(lease.Labels))
				Expect(shard.Data).To(BeEmpty())
			}
			Expect(k8sClient.Get(ctx, shardKey("acme", o, 2), &corev1.Secret{})).To(Satisfy(apierrors.IsNotFound), "2 shards")
		}
		shards, leases := storeRules(Default, "acme")
		Expect(shards).To(Equal([]string{"acme-chats-0-0", "acme-chats-0-1", "acme-chats-1-0", "acme-chats-1-1"}))
		Expect(leases).To(Equal([]string{"acme-chats-0", "acme-chats-1"}))

		By("creating a shard the runner needs again when it was deleted")
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "acme-chats-1-0"}})).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, shardKey("acme", 1, 0), &corev1.Secret{}) }).Should(Succeed())
	})

	It("keeps the stores of removed runners while they hold chats, and removes them once empty", func() {
		key := create(deployed("acme", 3, 1))
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0, 1, 2}))
		writeShard(shardKey("acme", 1, 0), 5, nil)
		writeShard(shardKey("acme", 2, 0), 5, nil)

		By("scaling to one runner")
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = new(int32(1)) })
		Eventually(func(g Gomega) int32 { return getGateway(g, key).Status.DesiredRunners }).Should(Equal(int32(1)))
		_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		for o := range 3 {
			Expect(k8sClient.Get(ctx, shardKey("acme", o, 0), &corev1.Secret{})).To(Succeed())
			Expect(k8sClient.Get(ctx, leaseKey("acme", o), &coordinationv1.Lease{})).To(Succeed())
		}
		Expect(chatStores(Default, key)).To(Equal([]int32{0, 1, 2}))
		shards, leases := storeRules(Default, "acme")
		Expect(shards).To(Equal([]string{"acme-chats-0-0", "acme-chats-1-0", "acme-chats-2-0"}), "a peer takes the chats over")
		Expect(leases).To(Equal([]string{"acme-chats-0", "acme-chats-1", "acme-chats-2"}))

		By("emptying the store of ordinal 2")
		writeShard(shardKey("acme", 2, 0), 0, nil)
		expectGone(shardKey("acme", 2, 0), &corev1.Secret{})
		expectGone(leaseKey("acme", 2), &coordinationv1.Lease{})
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0, 1}))
		Eventually(func(g Gomega) []string { s, _ := storeRules(g, "acme"); return s }).Should(Equal([]string{"acme-chats-0-0", "acme-chats-1-0"}))
		Expect(k8sClient.Get(ctx, shardKey("acme", 1, 0), &corev1.Secret{})).To(Succeed(), "ordinal 1 still holds chats")

		By("emptying the store of ordinal 1")
		writeShard(shardKey("acme", 1, 0), 0, nil)
		expectGone(shardKey("acme", 1, 0), &corev1.Secret{})
		expectGone(leaseKey("acme", 1), &coordinationv1.Lease{})
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0}))
		Eventually(func(g Gomega) []string { _, l := storeRules(g, "acme"); return l }).Should(Equal([]string{"acme-chats-0"}))
		Expect(k8sClient.Get(ctx, shardKey("acme", 0, 0), &corev1.Secret{})).To(Succeed(), "the running runner's store stays, empty")
	})

	It("removes the shards beyond a lower capacity from the top once empty, never below one that holds chats", func() {
		key := create(deployed("acme", 1, 3))
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0}))
		writeShard(shardKey("acme", 0, 1), 4, nil)

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.MaxChatsPerAgent = 320 })
		expectGone(shardKey("acme", 0, 2), &corev1.Secret{})
		Eventually(func(g Gomega) []string { s, _ := storeRules(g, "acme"); return s }).Should(Equal([]string{"acme-chats-0-0", "acme-chats-0-1"}))
		Expect(k8sClient.Get(ctx, shardKey("acme", 0, 1), &corev1.Secret{})).To(Succeed())

		writeShard(shardKey("acme", 0, 1), 0, nil)
		expectGone(shardKey("acme", 0, 1), &corev1.Secret{})
		Eventually(func(g Gomega) []string { s, _ := storeRules(g, "acme"); return s }).Should(Equal([]string{"acme-chats-0-0"}))
		Expect(k8sClient.Get(ctx, shardKey("acme", 0, 0), &corev1.Secret{})).To(Succeed())
	})

	It("never changes what a runner wrote into a shard", func() {
		key := create(deployed("acme", 1, 1))
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0}))
		record := []byte(`{"v":1,"id":"r0-0123456789abcdef","nextSeq":1}`)
		writeShard(shardKey("acme", 0, 0), 1, map[string][]byte{"r0-0123456789abcdef": record})

		By("changing the gateway's domain, which relabels the store")
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Domain = "globex" })
		shard := &corev1.Secret{}
		Eventually(func(g Gomega) map[string]string {
			g.Expect(k8sClient.Get(ctx, shardKey("acme", 0, 0), shard)).To(Succeed())
			return shard.Labels
		}).Should(HaveKeyWithValue("chat.gatewayops.io/domain", "globex"))
		_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: key})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Get(ctx, shardKey("acme", 0, 0), shard)).To(Succeed())
		Expect(shard.Data).To(Equal(map[string][]byte{"r0-0123456789abcdef": record}))
		Expect(shard.Annotations).To(HaveKeyWithValue("chat.gatewayops.io/chats", "1"))
		for _, f := range shard.ManagedFields {
			if f.Manager == "genesys-gateway-operator" && f.FieldsV1 != nil {
				Expect(f.FieldsV1.GetRawString()).NotTo(ContainSubstring(`"f:data"`), "the operator owns no data")
			}
		}
	})

	It("keeps the stores that hold chats when the gateway stops being deployed", func() {
		key := create(deployed("acme", 2, 1))
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{0, 1}))
		writeShard(shardKey("acme", 1, 0), 2, nil)
		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Deploy = false })
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
		expectGone(shardKey("acme", 0, 0), &corev1.Secret{})
		expectGone(leaseKey("acme", 0), &coordinationv1.Lease{})
		Eventually(func(g Gomega) []int32 { return chatStores(g, key) }).Should(Equal([]int32{1}))
		Expect(k8sClient.Get(ctx, shardKey("acme", 1, 0), &corev1.Secret{})).To(Succeed())
	})

	It("neither takes over nor grants a Secret of a store's name that the gateway does not control", func() {
		theirs := newSecret(namespace, "acme-chats-0-0", map[string]string{"password": "not-for-the-runner"})
		Expect(k8sClient.Create(ctx, theirs)).To(Succeed())
		key := create(deployed("acme", 1, 1))
		c := expectReady(key, metav1.ConditionFalse, chatv1alpha1.InvalidConfigurationReason)
		Expect(c.Message).To(ContainSubstring(`Secret "acme-chats-0-0" exists and is not the gateway's chat store`))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(theirs), theirs)).To(Succeed())
		Expect(theirs.OwnerReferences).To(BeEmpty())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, &rbacv1.Role{})).
			To(Satisfy(apierrors.IsNotFound), "no runner Role names it")
	})
})
