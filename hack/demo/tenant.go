package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// The demo tenant: as in config/samples, with the connection pointing at the simulator.
const (
	tenantNamespace = "tenant-acme"
	gatewayName     = "acme"
	gmsSecretName   = "acme-gms-basic"
	domain          = "acme"
	serviceName     = "customer-support"
	queue           = "support"
)

// gatewayKey is the demo gateway's key.
var gatewayKey = types.NamespacedName{Namespace: tenantNamespace, Name: gatewayName}

// createTenant creates the tenant's namespace, the Secrets with the simulator's Basic
// credentials and the bot webhook's signing secret (granted to the gateway), and a deployed
// GenesysGateway with replicas runners that delivers its events to the bot's webhook.
func createTenant(ctx context.Context, cp *controlPlane, sim *simulator, hook *webhookReceiver, replicas int) (*chatv1alpha1.GenesysGateway, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNamespace}}
	if err := cp.client.Create(ctx, ns); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", tenantNamespace, err)
	}
	// Granted to the demo gateway only: naming a Secret in a gateway is not enough.
	labels, annotations := gateway.GrantListedTo(gatewayName)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantNamespace, Name: gmsSecretName, Labels: labels, Annotations: annotations},
		Type:       corev1.SecretTypeBasicAuth,
		StringData: map[string]string{corev1.BasicAuthUsernameKey: gmsUser, corev1.BasicAuthPasswordKey: sim.password},
	}
	if err := cp.client.Create(ctx, secret); err != nil {
		return nil, fmt.Errorf("creating Secret %s: %w", gmsSecretName, err)
	}
	hookSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantNamespace, Name: webhookSecretName, Labels: labels, Annotations: annotations},
		StringData: map[string]string{gateway.KeyWebhookSecret: hook.secret},
	}
	if err := cp.client.Create(ctx, hookSecret); err != nil {
		return nil, fmt.Errorf("creating Secret %s: %w", webhookSecretName, err)
	}
	gw := &chatv1alpha1.GenesysGateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantNamespace, Name: gatewayName},
		Spec: chatv1alpha1.GenesysGatewaySpec{
			DisplayName: "ACME customer support (demo)",
			Domain:      domain,
			Deploy:      true,
			Connection: chatv1alpha1.Connection{
				ServiceURL:  sim.url,
				ServiceName: serviceName,
				BasicAuth:   &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: gmsSecretName}},
			},
			EscalationQueue:        queue,
			PollingIntervalSeconds: 1,
			Runner: chatv1alpha1.Runner{
				Replicas: ptr.To(int32(replicas)),
				Webhook: &chatv1alpha1.Webhook{
					URL:              webhookURL,
					SigningSecretRef: chatv1alpha1.SecretReference{Name: webhookSecretName},
				},
			},
		},
	}
	if err := cp.client.Create(ctx, gw); err != nil {
		return nil, fmt.Errorf("creating GenesysGateway %s: %w", gatewayKey, err)
	}
	return gw, nil
}
