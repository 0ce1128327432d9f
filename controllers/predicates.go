package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// runnersChanged passes gateway updates whose runner entries changed, so that the
// operator keeps the gateway's totals equal to the sums of the runners' counts. The
// operator's own status writes do not pass it.
type runnersChanged struct {
	predicate.Funcs
}

// Update passes an update that changed status.runners.
func (runnersChanged) Update(e event.UpdateEvent) bool {
	oldGW, ok1 := e.ObjectOld.(*chatv1alpha1.GenesysGateway)
	newGW, ok2 := e.ObjectNew.(*chatv1alpha1.GenesysGateway)
	return ok1 && ok2 && !equality.Semantic.DeepEqual(oldGW.Status.Runners, newGW.Status.Runners)
}
