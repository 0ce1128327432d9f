package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Field indexes of GenesysGateways by the objects they reference, so that a change of a
// Secret or ConfigMap reconciles exactly the gateways that use it.
const (
	secretIndex    = ".spec.secretNames"
	configMapIndex = ".spec.configMapNames"
)

// reference is an object a gateway needs (see gateway.Reference).
type reference = gateway.Reference

// indexer returns the field index function of the references of one kind.
func indexer(kind gateway.Kind) client.IndexerFunc {
	return func(obj client.Object) []string {
		return gateway.Names(gateway.References(obj.(*chatv1alpha1.GenesysGateway)), kind)
	}
}

// missingKeyReasons are the reasons of a missing key, by kind.
var missingKeyReasons = map[gateway.Kind]string{
	gateway.KindSecret:    chatv1alpha1.SecretKeyMissingReason,
	gateway.KindConfigMap: chatv1alpha1.ConfigMapKeyMissingReason,
}

// referenceProblem says why a reference cannot be used, naming the object and the key,
// never a value.
type referenceProblem struct {
	reason  string
	message string
}

// resolve checks every reference with a live read (Secrets are not cached, so their
// content never sits in the operator's memory), then parses the certificates, keys and CA
// bundles among them (checkCredentials, cached per versions). It returns the first problem found, or an error
// when the API server could not be asked.
func resolve(ctx context.Context, reader client.Reader, verdicts *verdictCache, gw types.NamespacedName, refs []reference) (*referenceProblem, error) {
	namespace := gw.Namespace
	contents := make(map[gateway.Field]map[string][]byte, len(refs))
	versions := make(map[gateway.Field]string, len(refs))
	for _, ref := range refs {
		key := types.NamespacedName{Namespace: namespace, Name: ref.Name}
		var data map[string]bool
		switch ref.Kind {
		case gateway.KindSecret:
			s := &corev1.Secret{}
			if err := reader.Get(ctx, key, s); err != nil {
				if apierrors.IsNotFound(err) {
					return &referenceProblem{chatv1alpha1.SecretNotFoundReason,
						fmt.Sprintf("Secret %q named by %s not found", ref.Name, ref.Field)}, nil
				}
				return nil, fmt.Errorf("reading Secret %q: %w", ref.Name, err)
			}
			data = keysOf(s.Data, nil)
			contents[ref.Field], versions[ref.Field] = s.Data, s.ResourceVersion
		case gateway.KindConfigMap:
			cm := &corev1.ConfigMap{}
			if err := reader.Get(ctx, key, cm); err != nil {
				if apierrors.IsNotFound(err) {
					return &referenceProblem{chatv1alpha1.ConfigMapNotFoundReason,
						fmt.Sprintf("ConfigMap %q named by %s not found", ref.Name, ref.Field)}, nil
				}
				return nil, fmt.Errorf("reading ConfigMap %q: %w", ref.Name, err)
			}
			data = keysOf(cm.BinaryData, cm.Data)
			contents[ref.Field], versions[ref.Field] = configMapContent(cm), cm.ResourceVersion
		}
		for _, k := range ref.Keys {
			if !data[k] {
				return &referenceProblem{missingKeyReasons[ref.Kind],
					fmt.Sprintf("%s %q named by %s has no key %q", ref.Kind, ref.Name, ref.Field, k)}, nil
			}
		}
	}
	return verdicts.check(gw.String(), refs, versions, contents, time.Now()), nil
}

// configMapContent is a ConfigMap's data and binary data as bytes.
func configMapContent(cm *corev1.ConfigMap) map[string][]byte {
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	return out
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
