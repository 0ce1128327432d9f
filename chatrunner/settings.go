package chatrunner

import (
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// callTimeout bounds each attempt of a Chat API call.
const callTimeout = 10 * time.Second

// gmsSettings derives the Chat API client's settings from a gateway.
func gmsSettings(gw *chatv1alpha1.GenesysGateway) gms.Settings {
	conn := gw.Spec.Connection
	s := gms.Settings{
		ServiceURL:  conn.ServiceURL,
		ContextPath: string(conn.ContextPath),
		ServiceName: string(conn.ServiceName),
		Overrides:   make(map[gms.Operation]string, len(conn.EndpointOverrides)),
		Timeout:     callTimeout,
		Retry: gms.RetryPolicy{
			MaxAttempts:  int(gw.Spec.APIRetry.MaxAttempts),
			InitialDelay: time.Duration(gw.Spec.APIRetry.InitialDelayMilliseconds) * time.Millisecond,
			Multiplier:   2,
		},
	}
	if m := conn.MicrosoftClientCredentials; m != nil && m.ContextPath != "" {
		s.ContextPath = string(m.ContextPath)
	}
	for op, segment := range conn.EndpointOverrides {
		s.Overrides[gms.Operation(op)] = string(segment)
	}
	if q := gw.Spec.APIRetry.Multiplier; q != nil {
		s.Retry.Multiplier = q.AsApproximateFloat64()
	}
	return s
}

// engineSettings derives the chat engine's settings from a snapshot; a directory that
// cannot be read leaves agent names to Genesys and is returned as an error to report.
func engineSettings(snap *live.Snapshot) (chat.Settings, error) {
	gw := snap.Gateway
	var directory map[string]string
	var err error
	if d := gw.Spec.AgentDirectory; d != nil {
		var doc string
		if doc, err = snap.ConfigMapKey(string(d.Name), d.Key); err == nil {
			directory, err = chat.ParseDirectory(doc)
		}
	}
	return chat.SettingsFrom(gw, directory), err
}

// escalationToken reads the escalation API's token from the live snapshot.
func escalationToken(w *live.Watcher) func() (string, error) {
	return func() (string, error) {
		snap := w.Current()
		b, err := snap.SecretKey(gateway.TokenSecretName(snap.Gateway), gateway.TokenKey)
		return string(b), err
	}
}
