package gateway

import (
	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Ports of the runner container.
const (
	// HTTPPort serves the escalation API, to bots and to peer runners.
	HTTPPort = 8080
	// HealthPort serves /healthz and /readyz.
	HealthPort = 8081
	// MetricsPort serves Prometheus metrics.
	MetricsPort = 9090
	// ServicePort is the port of the escalation Service.
	ServicePort = 80
	// ServiceTLSPort is the port of the escalation Service when the API is served over
	// HTTPS (spec.runner.escalationTLS).
	ServiceTLSPort = 443
)

const (
	// ContainerName is the name of the runner container.
	ContainerName = "runner"
	// RunnerSubcommand is the subcommand of the operator binary that runs a chat runner.
	RunnerSubcommand = "chat-runner"
	// EscalationTLSFlag is the runner's flag that serves the escalation API over HTTPS,
	// with the certificate of the gateway's spec.runner.escalationTLS read live. It is a
	// flag, in the pod template, because the listener cannot change under a running pod.
	EscalationTLSFlag = "escalation-tls"
)

// Replicas is the number of runner pods a gateway asks for (0 unless deployed).
func Replicas(gw *chatv1alpha1.GenesysGateway) int32 {
	if !gw.Spec.Deploy {
		return 0
	}
	return ptr.Deref(gw.Spec.Runner.Replicas, 1)
}
