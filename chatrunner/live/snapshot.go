package live

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Errors of SecretKey and ConfigMapKey, for errors.Is. The errors returned name the object
// and the key, never a value.
var (
	// ErrNotFound: the object does not exist, is not listed yet, or is not referenced.
	ErrNotFound = errors.New("not found")
	// ErrKeyMissing: the object has no such key, or its value is empty.
	ErrKeyMissing = errors.New("has no key")
)

// Snapshot is one consistent view of the gateway and its referenced objects. It is
// immutable: callers must not modify it or the objects it holds. Never log or print
// Secret data.
type Snapshot struct {
	// Gateway is the gateway; nil until seen. After the gateway is deleted it stays the
	// last one seen. Its status and metadata are as of the last published change: the
	// Watcher publishes a new generation, not changes of status only (runners write the
	// status often) or of labels and annotations only.
	Gateway *chatv1alpha1.GenesysGateway
	// Secrets are the referenced Secrets that exist, by name.
	Secrets map[string]*corev1.Secret
	// ConfigMaps are the referenced ConfigMaps that exist, by name.
	ConfigMaps map[string]*corev1.ConfigMap

	// state is how far the watch of each referenced object got, by objectKey; nil in a
	// Snapshot not built by a Watcher.
	state map[string]watchState
	// ungranted are the referenced objects that exist but do not grant themselves to the
	// gateway, by objectKey: left out of Secrets and ConfigMaps.
	ungranted map[string]bool
	// gone is true once the gateway seen was deleted.
	gone bool
	// version identifies the content, to publish only changes.
	version string
}

// pending returns the keys of the referenced objects whose first list is not done, nor
// refused, sorted.
func (s *Snapshot) pending() []string {
	var keys []string
	for key, state := range s.state {
		if state == pending {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

// SecretKey returns a copy of the value of a key of a referenced Secret. Its error names
// the Secret and the key, never a value.
func (s *Snapshot) SecretKey(name, key string) ([]byte, error) {
	secret, ok := s.Secrets[name]
	if !ok {
		return nil, s.absent(string(gateway.KindSecret), name)
	}
	v, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("Secret %q %w %q", name, ErrKeyMissing, key)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("Secret %q %w %q (its value is empty)", name, ErrKeyMissing, key)
	}
	return bytes.Clone(v), nil
}

// ConfigMapKey returns the value of a key (data or binaryData) of a referenced ConfigMap.
// Its error names the ConfigMap and the key, never a value.
func (s *Snapshot) ConfigMapKey(name, key string) (string, error) {
	cm, ok := s.ConfigMaps[name]
	if !ok {
		return "", s.absent(string(gateway.KindConfigMap), name)
	}
	v, ok := cm.Data[key]
	if !ok {
		b, inBinary := cm.BinaryData[key]
		v, ok = string(b), inBinary
	}
	if !ok {
		return "", fmt.Errorf("ConfigMap %q %w %q", name, ErrKeyMissing, key)
	}
	if v == "" {
		return "", fmt.Errorf("ConfigMap %q %w %q (its value is empty)", name, ErrKeyMissing, key)
	}
	return v, nil
}

// absent says why an object is not in the snapshot.
func (s *Snapshot) absent(kind, name string) error {
	state, referenced := s.state[objectKey(kind, name)]
	switch {
	case s.state != nil && !referenced:
		return fmt.Errorf("%s %q %w: the gateway does not reference it", kind, name, ErrNotFound)
	case s.ungranted[objectKey(kind, name)]:
		return fmt.Errorf("%s %q %w: it does not grant itself to the gateway (label %s)", kind, name, ErrNotFound, gateway.LabelGrant)
	case referenced && state == refused:
		return fmt.Errorf("%s %q %w yet: the runner's Role does not allow reading it (yet)", kind, name, ErrNotFound)
	case referenced && state == pending:
		return fmt.Errorf("%s %q %w yet: its watch has not listed it", kind, name, ErrNotFound)
	default:
		return fmt.Errorf("%s %q %w", kind, name, ErrNotFound)
	}
}

// ResourceVersions returns the resourceVersion of each referenced object that exists, by
// "Kind/name" (e.g. "Secret/acme-gms"), for the runner to report what it applied. It
// never holds content.
func (s *Snapshot) ResourceVersions() map[string]string {
	rvs := make(map[string]string, len(s.Secrets)+len(s.ConfigMaps))
	for name, o := range s.Secrets {
		rvs[objectKey(string(gateway.KindSecret), name)] = o.ResourceVersion
	}
	for name, o := range s.ConfigMaps {
		rvs[objectKey(string(gateway.KindConfigMap), name)] = o.ResourceVersion
	}
	return rvs
}

// ResourceVersion returns the resourceVersion of a referenced object, and whether it
// exists.
func (s *Snapshot) ResourceVersion(kind gateway.Kind, name string) (string, bool) {
	switch kind {
	case gateway.KindSecret:
		if o, ok := s.Secrets[name]; ok {
			return o.ResourceVersion, true
		}
	case gateway.KindConfigMap:
		if o, ok := s.ConfigMaps[name]; ok {
			return o.ResourceVersion, true
		}
	}
	return "", false
}

// objectKey identifies a referenced object: "Kind/name".
func objectKey(kind, name string) string { return kind + "/" + name }
