// Package v1alpha1 contains the v1alpha1 API of the chat.gatewayops.io group: the
// GenesysGateway resource, one per tenant connection to a Genesys PureEngage chat service.
//
// +kubebuilder:object:generate=true
// +groupName=chat.gatewayops.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the objects in this package.
	GroupVersion = schema.GroupVersion{Group: "chat.gatewayops.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
