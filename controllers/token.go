package controllers

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// ensureGeneratedToken creates the escalation token Secret of a gateway that names none.
// It is created once, with a random token, and never rewritten: the bot keeps using the
// token it was given. Deleting the Secret makes the operator create a new token. The
// Secret is granted to its gateway only (see gateway.Granted), like any Secret a gateway
// uses.
func (r *GatewayReconciler) ensureGeneratedToken(ctx context.Context, gw *chatv1alpha1.GenesysGateway) error {
	if gw.Spec.Runner.EscalationTokenSecretRef != nil {
		return nil
	}
	name := gateway.GeneratedTokenSecretName(gw)
	// Metadata only: the Secrets' metadata cache answers without an API call. Should it
	// lag behind a Secret just created, Create reports AlreadyExists and nothing changes.
	existing := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	switch err := r.Get(ctx, types.NamespacedName{Namespace: gw.Namespace, Name: name}, existing); {
	case err == nil:
		return r.grantGeneratedToken(ctx, gw, existing)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading escalation token Secret %q: %w", name, err)
	}
	labels, annotations := gateway.GrantListedTo(gw.Name)
	maps.Copy(labels, gateway.Labels(gw))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   gw.Namespace,
			Labels:      labels,
			Annotations: annotations,
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

// grantGeneratedToken grants the generated token Secret to its gateway when it is not: a
// token generated before Secrets had to be granted, or one whose grant was removed. It
// touches only a Secret the gateway controls; another Secret of that name is granted by
// whoever wrote it, or refused. Other gateways the annotation lists stay listed.
func (r *GatewayReconciler) grantGeneratedToken(ctx context.Context, gw *chatv1alpha1.GenesysGateway, secret *metav1.PartialObjectMetadata) error {
	if !metav1.IsControlledBy(secret, gw) || gateway.Granted(secret.Labels, secret.Annotations, gw.Name) {
		return nil
	}
	patch := client.MergeFrom(secret.DeepCopy())
	listed := gw.Name
	if secret.Labels[gateway.LabelGrant] == gateway.GrantListed && strings.TrimSpace(secret.Annotations[gateway.AnnotationGateways]) != "" {
		listed = secret.Annotations[gateway.AnnotationGateways] + "," + gw.Name
	}
	labels, annotations := gateway.GrantListedTo(listed)
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	maps.Copy(secret.Labels, labels)
	maps.Copy(secret.Annotations, annotations)
	if err := r.Patch(ctx, secret, patch); err != nil {
		return fmt.Errorf("granting escalation token Secret %q to its gateway: %w", secret.Name, err)
	}
	logf.FromContext(ctx).Info("Granted the generated escalation token Secret to its gateway", "secret", secret.Name)
	return nil
}
