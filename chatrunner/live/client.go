package live

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// gatewayKind is the kind of the watched gateway.
const gatewayKind = "GenesysGateway"

// resource is how a kind is listed and watched.
type resource struct {
	client rest.Interface
	plural string
	object runtime.Object
}

// listers makes list-watches of single objects of a namespace.
type listers struct {
	namespace string
	byKind    map[string]resource
}

// newListers makes REST clients for Secrets, ConfigMaps and GenesysGateways that share
// one HTTP client.
func newListers(cfg *rest.Config, namespace string) (*listers, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP client: %w", err)
	}
	core, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the core client: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := chatv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	gwCfg := rest.CopyConfig(cfg)
	gwCfg.APIPath = "/apis"
	gwCfg.GroupVersion = &chatv1alpha1.GroupVersion
	gwCfg.NegotiatedSerializer = serializer.WithoutConversionCodecFactory{CodecFactory: serializer.NewCodecFactory(scheme)}
	if gwCfg.UserAgent == "" {
		gwCfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	gateways, err := rest.RESTClientForConfigAndClient(gwCfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the GenesysGateway client: %w", err)
	}
	return &listers{namespace: namespace, byKind: map[string]resource{
		string(gateway.KindSecret):    {core.CoreV1().RESTClient(), "secrets", &corev1.Secret{}},
		string(gateway.KindConfigMap): {core.CoreV1().RESTClient(), "configmaps", &corev1.ConfigMap{}},
		gatewayKind:                   {gateways, "genesysgateways", &chatv1alpha1.GenesysGateway{}},
	}}, nil
}

// listWatch lists and watches the one object of a kind with a name. A Role that names
// its objects (resourceNames) allows list and watch only with this field selector.
func (l *listers) listWatch(kind, name string) (*cache.ListWatch, runtime.Object) {
	r := l.byKind[kind]
	return cache.NewListWatchFromClient(r.client, r.plural, l.namespace,
		fields.OneTermEqualSelector("metadata.name", name)), r.object
}

// dropManagedFields keeps managedFields out of memory: the runner never reads them.
func dropManagedFields(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}
