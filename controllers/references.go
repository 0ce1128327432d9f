package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
)

// Field indexes of GenesysGateways by the objects they reference, so that a change of a
// Secret or ConfigMap reconciles exactly the gateways that use it.
const (
	secretIndex    = ".spec.secretNames"
	configMapIndex = ".spec.configMapNames"
)

// reference is an object a gateway needs: where the spec names it, what it is, and the
// keys it must hold. The operator checks references before it runs runners; it never
// reads or reports their values.
type reference struct {
	field string // the spec field naming it, e.g. spec.connection.basicAuth.secretRef
	kind  string // Secret or ConfigMap
	name  string
	keys  []string
}

// references lists what a gateway references, in a stable order.
func references(gw *chatv1alpha1.GenesysGateway) []reference {
	var refs []reference
	conn := gw.Spec.Connection
	if a := conn.BasicAuth; a != nil {
		refs = append(refs, reference{"spec.connection.basicAuth.secretRef", "Secret", string(a.SecretRef.Name), []string{"username", "password"}})
	}
	if m := conn.MicrosoftClientCredentials; m != nil {
		refs = append(refs, reference{"spec.connection.microsoftClientCredentials.certificateSecretRef", "Secret", string(m.CertificateSecretRef.Name), []string{"tls.crt"}})
		if p := m.PrivateKeyPasswordSecretRef; p != nil {
			refs = append(refs, reference{"spec.connection.microsoftClientCredentials.privateKeyPasswordSecretRef", "Secret", string(p.Name), []string{"password"}})
		}
	}
	tokenField := "spec.runner.escalationTokenSecretRef"
	if gw.Spec.Runner.EscalationTokenSecretRef == nil {
		tokenField = "status.escalationTokenSecretName (generated)"
	}
	refs = append(refs, reference{tokenField, "Secret", render.TokenSecretName(gw), []string{render.TokenKey}})
	if d := gw.Spec.AgentDirectory; d != nil {
		refs = append(refs, reference{"spec.agentDirectory", "ConfigMap", string(d.Name), []string{d.Key}})
	}
	return refs
}

// namesOf returns the names of the references of one kind.
func namesOf(refs []reference, kind string) []string {
	var names []string
	for _, r := range refs {
		if r.kind == kind {
			names = append(names, r.name)
		}
	}
	return names
}

// indexer returns the field index function of the references of one kind.
func indexer(kind string) client.IndexerFunc {
	return func(obj client.Object) []string {
		return namesOf(references(obj.(*chatv1alpha1.GenesysGateway)), kind)
	}
}

// missingKeyReasons are the reasons of a missing key, by kind.
var missingKeyReasons = map[string]string{
	"Secret":    chatv1alpha1.SecretKeyMissingReason,
	"ConfigMap": chatv1alpha1.ConfigMapKeyMissingReason,
}

// referenceProblem says why a reference cannot be used, naming the object and the key,
// never a value.
type referenceProblem struct {
	reason  string
	message string
}

// resolve checks every reference with a live read (Secrets are not cached, so their
// content never sits in the operator's memory). It returns the first problem found, or
// an error when the API server could not be asked.
func resolve(ctx context.Context, reader client.Reader, namespace string, refs []reference) (*referenceProblem, error) {
	for _, ref := range refs {
		key := types.NamespacedName{Namespace: namespace, Name: ref.name}
		var data map[string]bool
		switch ref.kind {
		case "Secret":
			s := &corev1.Secret{}
			if err := reader.Get(ctx, key, s); err != nil {
				if apierrors.IsNotFound(err) {
					return &referenceProblem{chatv1alpha1.SecretNotFoundReason,
						fmt.Sprintf("Secret %q named by %s not found", ref.name, ref.field)}, nil
				}
				return nil, fmt.Errorf("reading Secret %q: %w", ref.name, err)
			}
			data = keysOf(s.Data, nil)
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			if err := reader.Get(ctx, key, cm); err != nil {
				if apierrors.IsNotFound(err) {
					return &referenceProblem{chatv1alpha1.ConfigMapNotFoundReason,
						fmt.Sprintf("ConfigMap %q named by %s not found", ref.name, ref.field)}, nil
				}
				return nil, fmt.Errorf("reading ConfigMap %q: %w", ref.name, err)
			}
			data = keysOf(cm.BinaryData, cm.Data)
		}
		for _, k := range ref.keys {
			if !data[k] {
				return &referenceProblem{missingKeyReasons[ref.kind],
					fmt.Sprintf("%s %q named by %s has no key %q", ref.kind, ref.name, ref.field, k)}, nil
			}
		}
	}
	return nil, nil
}

// keysOf returns the keys that hold a non-empty value.
func keysOf(binary map[string][]byte, text map[string]string) map[string]bool {
	keys := make(map[string]bool, len(binary)+len(text))
	for k, v := range binary {
		keys[k] = len(v) > 0
	}
	for k, v := range text {
		keys[k] = v != ""
	}
	return keys
}
