package gateway

import (
	"fmt"
	"maps"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Label keys the operator puts on a gateway's child objects.
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
	// Component is the value of LabelName and LabelComponent of runner objects.
	Component = "chat-runner"
)

// RunnerName names the runner StatefulSet, its ServiceAccount, Role and RoleBinding.
func RunnerName(gw *chatv1alpha1.GenesysGateway) string { return gw.Name + "-runner" }

// RunnerPodName names the runner pod of an ordinal, as the StatefulSet names it.
func RunnerPodName(gw *chatv1alpha1.GenesysGateway, ordinal int) string {
	return fmt.Sprintf("%s-%d", RunnerName(gw), ordinal)
}

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
	return map[string]string{LabelName: Component, LabelInstance: gw.Name}
}

// Labels are the labels of every child object of a gateway.
func Labels(gw *chatv1alpha1.GenesysGateway) map[string]string {
	l := SelectorLabels(gw)
	maps.Copy(l, map[string]string{
		LabelComponent: Component,
		LabelManagedBy: ManagedBy,
		LabelGateway:   gw.Name,
		LabelDomain:    gw.Spec.Domain,
	})
	return l
}
