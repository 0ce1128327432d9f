// Package scheme builds the one runtime.Scheme every program and test of the project
// uses: the built-in Kubernetes types and the GenesysGateway API. Building it in one place
// keeps the operator, the runner, the demo and the suites decoding the same types.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// New returns a scheme of the built-in types and the chat.gatewayops.io types. Adding
// them cannot fail for types generated into this module, so a failure is a programming
// error and panics.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(chatv1alpha1.AddToScheme(s))
	return s
}
