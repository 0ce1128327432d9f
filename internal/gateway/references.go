package gateway

import (
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Field is the path of the spec field that names a referenced object. Problems name it, so
// a person knows which line of the resource to fix.
type Field string

// The fields that name referenced objects.
const (
	FieldBasicAuth         Field = "spec.connection.basicAuth.secretRef"
	FieldEntraCertificate  Field = "spec.connection.microsoftClientCredentials.certificateSecretRef"
	FieldEntraKeyPassword  Field = "spec.connection.microsoftClientCredentials.privateKeyPasswordSecretRef"
	FieldCABundle          Field = "spec.connection.tls.caBundle"
	FieldClientCertificate Field = "spec.connection.tls.clientCertificateSecretRef"
	FieldEscalationToken   Field = "spec.runner.escalationTokenSecretRef"
	FieldGeneratedToken    Field = "status.escalationTokenSecretName (generated)"
	FieldAgentDirectory    Field = "spec.agentDirectory"
	FieldEscalationTLS     Field = "spec.runner.escalationTLS.secretRef"
	FieldWebhookSecret     Field = "spec.runner.webhook.signingSecretRef"
	FieldWebhookCABundle   Field = "spec.runner.webhook.caBundle"
)

// IsTLS tells whether the field belongs to spec.connection.tls: what the transport to
// Genesys is built from.
func (f Field) IsTLS() bool { return f == FieldCABundle || f == FieldClientCertificate }

// Kind is the kind of a referenced object.
type Kind string

// The kinds of referenced objects.
const (
	KindSecret    Kind = "Secret"
	KindConfigMap Kind = "ConfigMap"
)

// Keys of referenced objects.
const (
	// KeyUsername and KeyPassword are the keys of a Basic auth Secret.
	KeyUsername = "username"
	KeyPassword = "password"
	// KeyTLSCertificate and KeyTLSKey are the keys of a kubernetes.io/tls Secret.
	KeyTLSCertificate = "tls.crt"
	KeyTLSKey         = "tls.key"
	// KeyCABundle is the default key of a CA bundle.
	KeyCABundle = "ca.crt"
	// TokenKey is the key of the escalation token in its Secret.
	TokenKey = "token"
	// PreviousTokenKey is the optional key of the escalation token being rotated out: the
	// runners accept it as well as TokenKey's until it is removed, so bots can move to the
	// new token one by one without a failed call.
	PreviousTokenKey = "token.previous"
	// KeyWebhookSecret is the key of the webhook's signing secret (whsec_<base64>), and
	// KeyPreviousWebhookSecret the optional one being rotated out: deliveries are signed
	// with both while it is there.
	KeyWebhookSecret         = "secret"
	KeyPreviousWebhookSecret = "secret.previous"
)

// Reference is an object a gateway needs: where the spec names it, what it is, and the
// keys it must hold. The operator checks references before it runs runners, and the
// runners watch them; neither reports their values.
type Reference struct {
	// Field is the spec field naming the object.
	Field Field
	// Kind is Secret or ConfigMap.
	Kind Kind
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
		refs = append(refs, Reference{FieldBasicAuth, KindSecret, string(a.SecretRef.Name), []string{KeyUsername, KeyPassword}})
	}
	if m := conn.MicrosoftClientCredentials; m != nil {
		refs = append(refs, Reference{FieldEntraCertificate, KindSecret, string(m.CertificateSecretRef.Name), []string{KeyTLSCertificate}})
		if p := m.PrivateKeyPasswordSecretRef; p != nil {
			refs = append(refs, Reference{FieldEntraKeyPassword, KindSecret, string(p.Name), []string{KeyPassword}})
		}
	}
	if t := conn.TLS; t != nil {
		if b := t.CABundle; b != nil {
			refs = append(refs, caBundle(FieldCABundle, b))
		}
		if c := t.ClientCertificateSecretRef; c != nil {
			refs = append(refs, Reference{FieldClientCertificate, KindSecret, string(c.Name), []string{KeyTLSCertificate, KeyTLSKey}})
		}
	}
	tokenField := FieldEscalationToken
	if gw.Spec.Runner.EscalationTokenSecretRef == nil {
		tokenField = FieldGeneratedToken
	}
	refs = append(refs, Reference{tokenField, KindSecret, TokenSecretName(gw), []string{TokenKey}})
	if d := gw.Spec.AgentDirectory; d != nil {
		refs = append(refs, Reference{FieldAgentDirectory, KindConfigMap, string(d.Name), []string{d.Key}})
	}
	if t := gw.Spec.Runner.EscalationTLS; t != nil {
		refs = append(refs, Reference{FieldEscalationTLS, KindSecret, string(t.SecretRef.Name), []string{KeyTLSCertificate, KeyTLSKey}})
	}
	if w := gw.Spec.Runner.Webhook; w != nil {
		refs = append(refs, Reference{FieldWebhookSecret, KindSecret, string(w.SigningSecretRef.Name), []string{KeyWebhookSecret}})
		if b := w.CABundle; b != nil {
			refs = append(refs, caBundle(FieldWebhookCABundle, b))
		}
	}
	return refs
}

// Names returns the names of the references of one kind, in order.
func Names(refs []Reference, kind Kind) []string {
	var names []string
	for _, r := range refs {
		if r.Kind == kind {
			names = append(names, r.Name)
		}
	}
	return names
}

// caBundle is the reference of a CA bundle named by field: a ConfigMap unless it says
// Secret, key ca.crt unless it names one.
func caBundle(field Field, b *chatv1alpha1.CABundleReference) Reference {
	kind, key := Kind(b.Kind), b.Key
	if kind == "" {
		kind = KindConfigMap
	}
	if key == "" {
		key = KeyCABundle
	}
	return Reference{field, kind, string(b.Name), []string{key}}
}
