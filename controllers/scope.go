package controllers

import (
	appsv1 "k8s.io/api/apps/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// scope holds what one reconcile observed of a gateway. The reconcile fills it as it goes
// and stops at the first failure; updateStatus then derives every condition from it and
// from nothing else. A field left at its zero value was not observed, and the conditions
// that depend only on it keep what they said before.
type scope struct {
	// gateway is the gateway being reconciled; updateStatus writes its status.
	gateway *chatv1alpha1.GenesysGateway

	// err is what stopped the reconcile: a *stallingError when the spec must change, any
	// other error when a call failed and is retried.
	err error

	// referencesChecked is set once every reference was read and its credentials parsed;
	// problem is then the first reason one cannot be used, nil when all can.
	referencesChecked bool
	problem           *referenceProblem
	// checkingCredentials is set when every reference was read but the parse of their
	// certificates and keys had not finished within checkWait: the reconcile stops there,
	// and runs again when the verdict lands.
	checkingCredentials bool

	// runnersPruned is set once the runner objects of a gateway that is not deployed are
	// gone.
	runnersPruned bool
	// statefulSet is the runner StatefulSet as last observed after applying it; nil when
	// it was not reached.
	statefulSet *appsv1.StatefulSet

	// storesObserved is set once the gateway's chat stores were observed and those it
	// keeps exist; chatStores are then the ordinals that keep a store, sorted.
	storesObserved bool
	chatStores     []int32

	// runners are the live runner entries of status.runners (see partitionRunners).
	runners []chatv1alpha1.RunnerStatus
}
