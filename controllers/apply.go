package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// FieldOwner is the server-side apply field manager of everything the operator writes.
const FieldOwner = "genesys-gateway-operator"

// applyChild server-side applies a child object, unless what the operator last applied
// to it (extracted from its managed fields) already equals the desired configuration: an
// unchanged gateway costs no write. A child the API server refuses as invalid comes from
// configuration that cannot work, so the error is stalling.
func applyChild[O client.Object, AC runtime.ApplyConfiguration](
	ctx context.Context, c client.Client, current O, desired AC, extract func(O, string) (AC, error),
) error {
	meta, ok := any(desired).(interface {
		GetName() *string
		GetNamespace() *string
	})
	if !ok {
		return fmt.Errorf("apply configuration %T has no name", desired)
	}
	key := client.ObjectKey{Namespace: *meta.GetNamespace(), Name: *meta.GetName()}
	switch err := c.Get(ctx, key, current); {
	case err == nil:
		if last, err := extract(current, FieldOwner); err == nil && equality.Semantic.DeepEqual(last, desired) {
			return nil
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading %T %s: %w", current, key, err)
	}
	if err := c.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		err = fmt.Errorf("applying %T %s: %w", current, key, err)
		if apierrors.IsInvalid(err) {
			return stalling(chatv1alpha1.InvalidConfigurationReason, err)
		}
		return err
	}
	return nil
}
