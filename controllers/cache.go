package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// CacheOptions make the operator cache only its own children, selected by their
// managed-by label. Secrets and ConfigMaps are watched by metadata only and read live.
func CacheOptions() cache.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{gateway.LabelManagedBy: gateway.ManagedBy})}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&appsv1.StatefulSet{}:           owned,
		&corev1.Service{}:               owned,
		&corev1.ServiceAccount{}:        owned,
		&rbacv1.Role{}:                  owned,
		&rbacv1.RoleBinding{}:           owned,
		&networkingv1.NetworkPolicy{}:   owned,
		&policyv1.PodDisruptionBudget{}: owned,
	}}
}
