package render

import (
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Reference is an object a gateway needs: where the spec names it, what it is, and the
// keys it must hold. The operator checks references before it runs runners, and the
// runners watch them; neither reports their values.
type Reference struct {
	// Field is the spec field naming the object, e.g. spec.connection.basicAuth.secretRef.
	Field string
	// Kind is Secret or ConfigMap.
	Kind string
	// Name is the object's name, in the gateway's namespace.
	Name string
	// Keys are the keys the object must hold.
	Keys []string
}

// References lists what a gateway references, in a stable order.
func References(gw *chatv1alpha1.GenesysGateway) []Reference {
	var refs []Reference
	conn := gw.Spec.Connection
	if a := conn.BasicAuth; a != nil {
		refs = append(refs, Reference{"spec.connection.basicAuth.secretRef", "Secret", string(a.SecretRef.Name), []string{"username", "password"}})
	}
	if m := conn.MicrosoftClientCredentials; m != nil {
		refs = append(refs, Reference{"spec.connection.microsoftClientCredentials.certificateSecretRef", "Secret", string(m.CertificateSecretRef.Name), []string{"tls.crt"}})
		if p := m.PrivateKeyPasswordSecretRef; p != nil {
			refs = append(refs, Reference{"spec.connection.microsoftClientCredentials.privateKeyPasswordSecretRef", "Secret", string(p.Name), []string{"password"}})
		}
	}
	if t := conn.TLS; t != nil {
		if b := t.CABundle; b != nil {
			kind, key := b.Kind, b.Key
			if kind == "" {
				kind = "ConfigMap"
			}
			if key == "" {
				key = "ca.crt"
			}
			refs = append(refs, Reference{"spec.connection.tls.caBundle", kind, string(b.Name), []string{key}})
		}
		if c := t.ClientCertificateSecretRef; c != nil {
			refs = append(refs, Reference{"spec.connection.tls.clientCertificateSecretRef", "Secret", string(c.Name), []string{"tls.crt", "tls.key"}})
		}
	}
	tokenField := "spec.runner.escalationTokenSecretRef"
	if gw.Spec.Runner.EscalationTokenSecretRef == nil {
		tokenField = "status.escalationTokenSecretName (generated)"
	}
	refs = append(refs, Reference{tokenField, "Secret", TokenSecretName(gw), []string{TokenKey}})
	if d := gw.Spec.AgentDirectory; d != nil {
		refs = append(refs, Reference{"spec.agentDirectory", "ConfigMap", string(d.Name), []string{d.Key}})
	}
	return refs
}
