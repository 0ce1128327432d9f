package render

import (
	"slices"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// ServiceAccount is the runner pods' identity.
func ServiceAccount(gw *chatv1alpha1.GenesysGateway) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw))
}

// Role gives the runners exactly what they need: read their own gateway, patch its
// status, read by name the Secrets and ConfigMaps given, write by name the shards and
// Leases of their chat stores, and create events. The caller gives only objects the
// gateway references that are granted to it (gateway.Granted): naming an object in a
// gateway must not be enough to read it. The runners can create no Secret and no Lease:
// the operator creates the stores.
func Role(gw *chatv1alpha1.GenesysGateway, secretNames, configMapNames []string, store StoreNames) *rbacv1ac.RoleApplyConfiguration {
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		rbacv1ac.PolicyRule().
			WithAPIGroups(chatv1alpha1.GroupVersion.Group).
			WithResources("genesysgateways").
			WithResourceNames(gw.Name).
			WithVerbs("get", "list", "watch"),
		rbacv1ac.PolicyRule().
			WithAPIGroups(chatv1alpha1.GroupVersion.Group).
			WithResources("genesysgateways/status").
			WithResourceNames(gw.Name).
			WithVerbs("get", "patch"),
	}
	if len(secretNames) > 0 {
		rules = append(rules, readByName("secrets", secretNames))
	}
	if len(configMapNames) > 0 {
		rules = append(rules, readByName("configmaps", configMapNames))
	}
	if len(store.Shards) > 0 {
		rules = append(rules, rbacv1ac.PolicyRule().
			WithAPIGroups("").
			WithResources("secrets").
			WithResourceNames(sortedNames(store.Shards)...).
			WithVerbs("get", "update", "patch"))
	}
	if len(store.Leases) > 0 {
		// list and watch by name: client-go's leader election lists and watches with a
		// metadata.name field selector, which a resourceNames rule allows.
		rules = append(rules, rbacv1ac.PolicyRule().
			WithAPIGroups("coordination.k8s.io").
			WithResources("leases").
			WithResourceNames(sortedNames(store.Leases)...).
			WithVerbs("get", "list", "watch", "update", "patch"))
	}
	rules = append(rules, rbacv1ac.PolicyRule().
		WithAPIGroups("events.k8s.io").
		WithResources("events").
		WithVerbs("create", "patch"))
	return rbacv1ac.Role(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithRules(rules...)
}

func readByName(resource string, names []string) *rbacv1ac.PolicyRuleApplyConfiguration {
	return rbacv1ac.PolicyRule().
		WithAPIGroups("").
		WithResources(resource).
		WithResourceNames(sortedNames(names)...).
		WithVerbs("get", "list", "watch")
}

// sortedNames returns names sorted, without duplicates: a stable Role.
func sortedNames(names []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(names)))
}

// RoleBinding binds the runner Role to the runner ServiceAccount.
func RoleBinding(gw *chatv1alpha1.GenesysGateway) *rbacv1ac.RoleBindingApplyConfiguration {
	return rbacv1ac.RoleBinding(gateway.RunnerName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithRoleRef(rbacv1ac.RoleRef().
			WithAPIGroup("rbac.authorization.k8s.io").
			WithKind("Role").
			WithName(gateway.RunnerName(gw))).
		WithSubjects(rbacv1ac.Subject().
			WithKind("ServiceAccount").
			WithName(gateway.RunnerName(gw)).
			WithNamespace(gw.Namespace))
}
