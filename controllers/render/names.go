// Package render builds the objects the operator applies for a GenesysGateway, as
// server-side apply configurations. It is pure: no API calls, only the gateway in and the
// desired objects out.
package render

import (
	"maps"

	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Label keys the operator puts on its child objects.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelGateway   = "chat.gatewayops.io/gateway"
	LabelDomain    = "chat.gatewayops.io/domain"

	// ManagedBy is the value of LabelManagedBy on every child object; the operator's
	// caches select on it.
	ManagedBy = "genesys-gateway-operator"
	// component is the value of LabelName and LabelComponent of runner objects.
	component = "chat-runner"
)

// Ports of the runner container.
const (
	HTTPPort    = 8080
	HealthPort  = 8081
	MetricsPort = 9090
	// ServicePort is the port of the escalation Service.
	ServicePort = 80
)

// TokenKey is the key of the escalation token in its Secret.
const TokenKey = "token"

// RunnerName names the runner StatefulSet, its ServiceAccount, Role and RoleBinding.
func RunnerName(gw *chatv1alpha1.GenesysGateway) string { return gw.Name + "-runner" }

// HeadlessServiceName names the headless Service that gives runner pods stable DNS names.
func HeadlessServiceName(gw *chatv1alpha1.GenesysGateway) string { return gw.Name + "-runners" }

// EscalationServiceName names the Service of the escalation API.
func EscalationServiceName(gw *chatv1alpha1.GenesysGateway) string {
	return gw.Name + "-escalations"
}

// GeneratedTokenSecretName names the escalation token Secret the operator generates when
// the gateway names none.
func GeneratedTokenSecretName(gw *chatv1alpha1.GenesysGateway) string {
	return gw.Name + "-escalation-token"
}

// TokenSecretName is the Secret holding the escalation token: the named one, or the
// generated one.
func TokenSecretName(gw *chatv1alpha1.GenesysGateway) string {
	if ref := gw.Spec.Runner.EscalationTokenSecretRef; ref != nil {
		return string(ref.Name)
	}
	return GeneratedTokenSecretName(gw)
}

// SelectorLabels select a gateway's runner pods. They never change for a gateway.
func SelectorLabels(gw *chatv1alpha1.GenesysGateway) map[string]string {
	return map[string]string{LabelName: component, LabelInstance: gw.Name}
}

// Labels are the labels of every child object of a gateway.
func Labels(gw *chatv1alpha1.GenesysGateway) map[string]string {
	l := SelectorLabels(gw)
	maps.Copy(l, map[string]string{
		LabelComponent: component,
		LabelManagedBy: ManagedBy,
		LabelGateway:   gw.Name,
		LabelDomain:    gw.Spec.Domain,
	})
	return l
}

// OwnerReference makes the gateway the controlling owner of a child object, so that
// deleting the gateway deletes it.
func OwnerReference(gw *chatv1alpha1.GenesysGateway) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(chatv1alpha1.GroupVersion.String()).
		WithKind("GenesysGateway").
		WithName(gw.Name).
		WithUID(gw.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
