package chatrunner

import (
	"fmt"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
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

// escalationToken reads the escalation API's tokens from the live snapshot: the current
// one (key token), which the API needs, and while a rotation overlaps the previous one (key
// token.previous), accepted as well until it is removed from the Secret.
func escalationToken(w *live.Watcher) escalation.TokenSource {
	return func() ([]string, error) {
		snap := w.Current()
		name := gateway.TokenSecretName(snap.Gateway)
		current, err := snap.SecretKey(name, gateway.TokenKey)
		if err != nil {
			return nil, err
		}
		if len(escalation.Tokens(string(current))) == 0 {
			return nil, fmt.Errorf("escalation token Secret %q: key %q holds no usable bearer token (only white space, or a line break within)", name, gateway.TokenKey)
		}
		// Absent outside a rotation.
		previous, _ := snap.SecretKey(name, gateway.PreviousTokenKey)
		return escalation.Tokens(string(current), string(previous)), nil
	}
}
