package controllers

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// applyPodDisruptionBudget applies the PodDisruptionBudget that lets drains take one runner
// of a deployed gateway at a time, or deletes it when the gateway runs a single runner: a
// budget of one pod would allow no eviction and block drains of its node forever. Only a
// budget the gateway controls is deleted: one of the same name that someone else made is
// left alone.
func (r *GatewayReconciler) applyPodDisruptionBudget(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	if gateway.Replicas(gw) > 1 {
		return applyChild(ctx, r.Client, &policyv1.PodDisruptionBudget{}, render.PodDisruptionBudget(gw), policyv1ac.ExtractPodDisruptionBudget)
	}
	deleted, err := r.deleteControlled(ctx, gw, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: gateway.RunnerName(gw)}})
	if deleted {
		logf.FromContext(ctx).Info("Deleted the runners' PodDisruptionBudget: the gateway runs one runner", "podDisruptionBudget", gateway.RunnerName(gw))
	}
	return err
}
