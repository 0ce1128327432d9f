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

// Reasons of the problems of a reference, by kind.
var (
	notFoundReasons = map[gateway.Kind]string{
		gateway.KindSecret:    chatv1alpha1.SecretNotFoundReason,
		gateway.KindConfigMap: chatv1alpha1.ConfigMapNotFoundReason,
	}
	notGrantedReasons = map[gateway.Kind]string{
		gateway.KindSecret:    chatv1alpha1.SecretNotGrantedReason,
		gateway.KindConfigMap: chatv1alpha1.ConfigMapNotGrantedReason,
	}
	missingKeyReasons = map[gateway.Kind]string{
		gateway.KindSecret:    chatv1alpha1.SecretKeyMissingReason,
		gateway.KindConfigMap: chatv1alpha1.ConfigMapKeyMissingReason,
	}
)

// referenceProblem says why a reference cannot be used, naming the object and the key,
// never a value.
type referenceProblem struct {
	reason  string
	message string
}

// resolve reads every reference live (Secrets are not cached, so their content never sits
// in the operator's memory) and returns the first problem found (nil when every reference
// can be used) and the references granted to the gateway: the only objects the runners'
// Role may name. An object that is not granted is looked at no further, so the status
// never tells a gateway's author anything of its keys or content. Once every reference is
// granted and has its keys, the certificates, keys and CA bundles among them are parsed
// (checkCredentials, cached per versions). It returns an error when the API server could
// not be asked.
func resolve(ctx context.Context, reader client.Reader, verdicts *verdictCache, gw types.NamespacedName, refs []reference) (*referenceProblem, []reference, error) {
	var problem *referenceProblem
	var granted []reference
	contents := make(map[gateway.Field]map[string][]byte, len(refs))
	versions := make(map[gateway.Field]string, len(refs))
	for _, ref := range refs {
		obj, content, err := readReference(ctx, reader, types.NamespacedName{Namespace: gw.Namespace, Name: ref.Name}, ref.Kind)
		if err != nil {
			return nil, nil, err
		}
		if obj != nil && gateway.Granted(obj.GetLabels(), obj.GetAnnotations(), gw.Name) {
			granted = append(granted, ref)
			contents[ref.Field], versions[ref.Field] = content, obj.GetResourceVersion()
		}
		if problem == nil {
			problem = checkReference(gw.Name, ref, obj, content)
		}
	}
	if problem != nil {
		return problem, granted, nil
	}
	return verdicts.check(gw.String(), refs, versions, contents, time.Now()), granted, nil
}

// readReference reads a referenced Secret or ConfigMap live, with its data and binary data
// as bytes; a nil object when it does not exist.
func readReference(ctx context.Context, reader client.Reader, key types.NamespacedName, kind gateway.Kind) (client.Object, map[string][]byte, error) {
	var obj client.Object
	switch kind {
	case gateway.KindSecret:
		obj = &corev1.Secret{}
	case gateway.KindConfigMap:
		obj = &corev1.ConfigMap{}
	default:
		return nil, nil, fmt.Errorf("reading %s %q: not a Secret or ConfigMap", kind, key.Name)
	}
	if err := reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("reading %s %q: %w", kind, key.Name, err)
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		return cm, configMapContent(cm), nil
	}
	return obj, obj.(*corev1.Secret).Data, nil
}

// checkReference tells what keeps the gateway from using a referenced object: that it does
// not exist, is not granted to the gateway (with how to grant it), or lacks a key; nil
// when nothing does. The grant is checked before the keys.
func checkReference(gw string, ref reference, obj client.Object, content map[string][]byte) *referenceProblem {
	switch {
	case obj == nil:
		return &referenceProblem{notFoundReasons[ref.Kind],
			fmt.Sprintf("%s %q named by %s not found", ref.Kind, ref.Name, ref.Field)}
	case !gateway.Granted(obj.GetLabels(), obj.GetAnnotations(), gw):
		return &referenceProblem{notGrantedReasons[ref.Kind],
			fmt.Sprintf("%s %q named by %s is not granted to gateway %q: %s", ref.Kind, ref.Name, ref.Field, gw, gateway.HowToGrant(gw))}
	}
	for _, k := range ref.Keys {
		if len(content[k]) == 0 {
			return &referenceProblem{missingKeyReasons[ref.Kind],
				fmt.Sprintf("%s %q named by %s has no key %q", ref.Kind, ref.Name, ref.Field, k)}
		}
	}
	return nil
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
