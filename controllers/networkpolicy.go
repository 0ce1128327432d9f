package controllers

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// applyNetworkPolicy applies the NetworkPolicy that isolates a deployed gateway's runners,
// or deletes it when spec.runner.networkPolicy.enabled is false. Only a policy the gateway
// controls is deleted: one of the same name that someone else made is left alone.
func (r *GatewayReconciler) applyNetworkPolicy(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	if gw.Spec.Runner.NetworkPolicy.IsEnabled() {
		return applyChild(ctx, r.Client, &networkingv1.NetworkPolicy{}, render.NetworkPolicy(gw), networkingv1ac.ExtractNetworkPolicy)
	}
	deleted, err := r.deleteControlled(ctx, gw, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}})
	if deleted {
		logf.FromContext(ctx).Info("Deleted the runners' NetworkPolicy: spec.runner.networkPolicy.enabled is false", "networkPolicy", gateway.RunnerName(gw))
	}
	return err
}
