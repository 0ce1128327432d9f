package render_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
)

func TestRoleWritesTheChatStoresByNameAndCreatesNothing(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant-acme", UID: "uid-1"}}
	raw, err := json.Marshal(render.Role(gw, []string{"gms"}, nil, render.StoreNames{
		Shards: []string{"acme-chats-1-0", "acme-chats-0-1", "acme-chats-0-0"},
		Leases: []string{"acme-chats-1", "acme-chats-0"},
	}))
	g.Expect(err).NotTo(HaveOccurred())
	var role rbacv1.Role
	g.Expect(json.Unmarshal(raw, &role)).To(Succeed())
	g.Expect(role.Rules).To(ContainElements(
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"gms"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"acme-chats-0-0", "acme-chats-0-1", "acme-chats-1-0"},
			Verbs: []string{"get", "update", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"acme-chats-0", "acme-chats-1"},
			Verbs: []string{"get", "list", "watch", "update", "patch"}},
	))
	for _, rule := range role.Rules {
		if rule.Resources[0] == "secrets" || rule.Resources[0] == "leases" {
			g.Expect(rule.Verbs).NotTo(ContainElement("create"))
			g.Expect(rule.ResourceNames).NotTo(BeEmpty())
		}
	}

	noStore, err := json.Marshal(render.Role(gw, nil, nil, render.StoreNames{}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(noStore)).NotTo(ContainSubstring("leases"), "no store, no rule")
}

func TestChatShardIsMetadataOnly(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant-acme", UID: "uid-1"}}
	gw.Spec.Domain = "acme"
	raw, err := json.Marshal(render.ChatShard(gw, 2, 5))
	g.Expect(err).NotTo(HaveOccurred())
	var fields map[string]any
	g.Expect(json.Unmarshal(raw, &fields)).To(Succeed())
	g.Expect(fields).NotTo(HaveKey("data"))
	g.Expect(fields).NotTo(HaveKey("stringData"))
	g.Expect(fields).NotTo(HaveKey("type"))
	var shard corev1.Secret
	g.Expect(json.Unmarshal(raw, &shard)).To(Succeed())
	g.Expect(shard.Name).To(Equal("acme-chats-2-5"))
	g.Expect(shard.Labels).To(HaveKeyWithValue("chat.gatewayops.io/ordinal", "2"))
	g.Expect(shard.Labels).To(HaveKeyWithValue("chat.gatewayops.io/store", "chats"))
	g.Expect(shard.Labels).To(HaveKeyWithValue("chat.gatewayops.io/gateway", "acme"))

	raw, err = json.Marshal(render.ChatLease(gw, 2))
	g.Expect(err).NotTo(HaveOccurred())
	fields = nil
	g.Expect(json.Unmarshal(raw, &fields)).To(Succeed())
	g.Expect(fields).NotTo(HaveKey("spec"), "the runners own the Lease's spec")
}
