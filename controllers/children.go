package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// applyRunners applies the objects that run a deployed gateway's runners, identity and
// permissions first (with the chat stores given), and returns the runner StatefulSet as
// last observed.
func (r *GatewayReconciler) applyRunners(ctx context.Context, gw *chatv1alpha1.GenesysGateway, image string, refs []reference, stores render.StoreNames) (*appsv1.StatefulSet, error) {
	sts := &appsv1.StatefulSet{}
	steps := []func() error{
		func() error {
			return applyChild(ctx, r.Client, &corev1.ServiceAccount{}, render.ServiceAccount(gw), corev1ac.ExtractServiceAccount)
		},
		func() error {
			role := render.Role(gw, gateway.Names(refs, gateway.KindSecret), gateway.Names(refs, gateway.KindConfigMap), stores)
			return applyChild(ctx, r.Client, &rbacv1.Role{}, role, rbacv1ac.ExtractRole)
		},
		func() error {
			return applyChild(ctx, r.Client, &rbacv1.RoleBinding{}, render.RoleBinding(gw), rbacv1ac.ExtractRoleBinding)
		},
		func() error {
			return applyChild(ctx, r.Client, &corev1.Service{}, render.HeadlessService(gw), corev1ac.ExtractService)
		},
		func() error {
			return applyChild(ctx, r.Client, &corev1.Service{}, render.EscalationService(gw), corev1ac.ExtractService)
		},
		// Before the StatefulSet, so that runners start fenced.
		func() error { return r.applyNetworkPolicy(ctx, gw) },
		// Before the StatefulSet too, so that no drain finds new runners unguarded.
		func() error { return r.applyPodDisruptionBudget(ctx, gw) },
		func() error {
			return applyChild(ctx, r.Client, sts, render.StatefulSet(gw, image), appsv1ac.ExtractStatefulSet)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := r.Get(ctx, client.ObjectKeyFromObject(sts), sts); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading StatefulSet %s: %w", sts.Name, err)
	}
	return sts, nil
}

// pruneRunners deletes the runner objects of a gateway that is not deployed: the
// StatefulSet first, so runners stop before they lose their permissions.
func (r *GatewayReconciler) pruneRunners(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	objs := []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: gateway.EscalationServiceName(gw)}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: gateway.HeadlessServiceName(gw)}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}},
	}
	for _, obj := range objs {
		deleted, err := r.deleteControlled(ctx, gw, obj)
		if err != nil {
			return err
		}
		if _, isSTS := obj.(*appsv1.StatefulSet); deleted && isSTS {
			r.event(gw, corev1.EventTypeNormal, "RunnersRemoved", "Removed the runners: deploy is false")
		}
	}
	return nil
}

// deleteControlled deletes a gateway's child named like obj, in the gateway's namespace,
// if it exists and the gateway controls it: an object of the same name that someone else
// made is left alone. It reports whether it deleted one.
func (r *GatewayReconciler) deleteControlled(ctx context.Context, gw *chatv1alpha1.GenesysGateway, obj client.Object) (bool, error) {
	key := client.ObjectKey{Namespace: gw.Namespace, Name: obj.GetName()}
	if err := r.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %T %s: %w", obj, key, err)
	}
	if !metav1.IsControlledBy(obj, gw) {
		return false, nil
	}
	if err := r.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return false, fmt.Errorf("deleting %T %s: %w", obj, key, err)
	}
	return true, nil
}
