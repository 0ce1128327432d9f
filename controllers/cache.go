package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// CacheOptions make the operator cache only its own children, selected by their
// managed-by label. Secrets and ConfigMaps are watched by metadata only and read live:
// no informer holds a Secret's data, neither the credentials gateways reference nor the
// shards of the chat stores (up to 1 MiB each, with the chats' secure keys). The Leases of
// the chat stores are watched by metadata only as well, and only they: the store's
// labels select them.
func CacheOptions() cache.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{gateway.LabelManagedBy: gateway.ManagedBy})}
	storeLeases := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{
		gateway.LabelManagedBy: gateway.ManagedBy, chatstore.LabelStore: chatstore.StoreValue,
	})}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&coordinationv1.Lease{}:         storeLeases,
		&appsv1.StatefulSet{}:           owned,
		&corev1.Service{}:               owned,
		&corev1.ServiceAccount{}:        owned,
		&rbacv1.Role{}:                  owned,
		&rbacv1.RoleBinding{}:           owned,
		&networkingv1.NetworkPolicy{}:   owned,
		&policyv1.PodDisruptionBudget{}: owned,
	}}
}
