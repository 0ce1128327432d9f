// Package render builds the objects the operator applies for a GenesysGateway, as
// server-side apply configurations. It is pure: no API calls, only the gateway in and the
// desired objects out. Names, labels and ports come from the contract in internal/gateway,
// which the runner relies on too.
package render

import (
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// OwnerReference makes the gateway the controlling owner of a child object, so that
// deleting the gateway deletes it.
func OwnerReference(gw *chatv1alpha1.GenesysGateway) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(chatv1alpha1.GroupVersion.String()).
		WithKind("GenesysGateway").
		WithName(gw.Name).
		WithUID(gw.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
