package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// HeadlessService gives each runner pod a stable DNS name
// (<pod>.<gateway>-runners.<namespace>.svc), used to forward a call to the runner that owns
// a chat. Pods are published before they are ready so that peers can reach them at once.
func HeadlessService(gw *chatv1alpha1.GenesysGateway) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(gateway.HeadlessServiceName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true).
			WithSelector(gateway.SelectorLabels(gw)).
			WithPorts(corev1ac.ServicePort().
				WithName("http").
				WithProtocol(corev1.ProtocolTCP).
				WithPort(gateway.HTTPPort).
				WithTargetPort(intstr.FromString("http"))))
}

// EscalationService is the Service bots call: the escalation API of every ready runner,
// on port 80, or 443 (named https) when the API is served over HTTPS.
func EscalationService(gw *chatv1alpha1.GenesysGateway) *corev1ac.ServiceApplyConfiguration {
	name, port := "http", int32(gateway.ServicePort)
	if gw.Spec.Runner.EscalationTLS != nil {
		name, port = "https", gateway.ServiceTLSPort
	}
	return corev1ac.Service(gateway.EscalationServiceName(gw), gw.Namespace).
		WithLabels(gateway.Labels(gw)).
		WithOwnerReferences(OwnerReference(gw)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(gateway.SelectorLabels(gw)).
			WithPorts(corev1ac.ServicePort().
				WithName(name).
				WithProtocol(corev1.ProtocolTCP).
				WithPort(port).
				WithTargetPort(intstr.FromString("http"))))
}
