package controllers

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// ensureGeneratedToken creates the escalation token Secret of a gateway that names none.
// It is created once, with a random token, and never rewritten: the bot keeps using the
// token it was given. Deleting the Secret makes the operator create a new token.
func (r *GatewayReconciler) ensureGeneratedToken(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	if gw.Spec.Runner.EscalationTokenSecretRef != nil {
		return nil
	}
	name := gateway.GeneratedTokenSecretName(gw)
	// Existence only: the Secrets' metadata cache answers without an API call. Should it
	// lag behind a Secret just created, Create reports AlreadyExists and nothing changes.
	err := r.Get(ctx, types.NamespacedName{Namespace: gw.Namespace, Name: name}, &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
	})
	if err == nil || !apierrors.IsNotFound(err) {
		return client.IgnoreNotFound(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: gw.Namespace,
			Labels:    gateway.Labels(gw),
			OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(gw, chatv1alpha1.GroupVersion.WithKind("GenesysGateway")),
			},
		},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{gateway.TokenKey: rand.Text()},
	}
	if err := r.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("creating escalation token Secret %q: %w", name, err)
	}
	r.event(gw, corev1.EventTypeNormal, "TokenGenerated", "Generated the escalation token Secret %q", name)
	return nil
}
