package controllers

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// revokeUngranted makes the runner Role of a gateway whose references cannot all be used
// name only the referenced objects still granted to it. While a reference cannot be used
// the operator changes no runner, but the Role must follow the grants at once: otherwise
// a Secret whose grant was withdrawn, or one deleted and created again without a grant,
// would stay readable by the runners that already run. A gateway without a runner Role
// gets none here: the Role comes with the runners, once every reference resolves. The
// runners keep their chat stores, as they exist: none is created nor deleted meanwhile.
func (r *GatewayReconciler) revokeUngranted(ctx context.Context, gw *chatv1alpha1.GenesysGateway, granted []reference) error {
	role := &rbacv1.Role{}
	key := client.ObjectKey{Namespace: gw.Namespace, Name: gateway.RunnerName(gw)}
	if err := r.Get(ctx, key, role); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading Role %s: %w", key, err)
	}
	if !metav1.IsControlledBy(role, gw) {
		return nil
	}
	stores, err := r.existingStoreNames(ctx, gw)
	if err != nil {
		return err
	}
	desired := render.Role(gw, gateway.Names(granted, gateway.KindSecret), gateway.Names(granted, gateway.KindConfigMap), stores)
	return applyChild(ctx, r.Client, role, desired, rbacv1ac.ExtractRole)
}
