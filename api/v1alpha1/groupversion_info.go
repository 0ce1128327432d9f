// Package v1alpha1 contains the v1alpha1 API of the chat.gatewayops.io group: the
// GenesysGateway resource, one per tenant connection to a Genesys PureEngage chat service.
//
// +kubebuilder:object:generate=true
// +groupName=chat.gatewayops.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "chat.gatewayops.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme. It is
	// apimachinery's, not controller-runtime's, so that importing the API pulls in no
	// controller framework.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the GenesysGateway types and the meta types of their group
// version (list and watch options).
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &GenesysGateway{}, &GenesysGatewayList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
