package controllers_test

import (
	"bytes"
	"os"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestNamespacedOverlayGrantsWhatTheClusterRoleGrants keeps the namespaced mode's Role
// (config/overlays/namespaced) equal to the ClusterRole generated from the reconciler's
// RBAC markers: a right added to the operator must reach both modes.
func TestNamespacedOverlayGrantsWhatTheClusterRoleGrants(t *testing.T) {
	g := NewWithT(t)
	var cluster rbacv1.ClusterRole
	data, err := os.ReadFile("../config/rbac/role.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.Unmarshal(data, &cluster)).To(Succeed())

	data, err = os.ReadFile("../config/overlays/namespaced/manager_role.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	var role rbacv1.Role
	found := false
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct{ Kind string }
		g.Expect(yaml.Unmarshal(doc, &meta)).To(Succeed())
		if meta.Kind == "Role" {
			g.Expect(yaml.Unmarshal(doc, &role)).To(Succeed())
			found = true
		}
	}
	g.Expect(found).To(BeTrue(), "the overlay has a Role")
	g.Expect(role.Rules).To(Equal(cluster.Rules), "regenerate manager_role.yaml's rules from config/rbac/role.yaml")
}
