package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// eventGenesysRecovered is the reason of the event of GenesysReachable turning True again.
const eventGenesysRecovered = "GenesysRecovered"

// event records an event on the gateway, its note cut to the API's limit. Notes never
// hold a credential.
func (r *GatewayReconciler) event(gw *chatv1alpha1.GenesysGateway, eventType, reason, note string, args ...any) {
	r.Recorder.Eventf(gw, nil, eventType, reason, "Reconcile", "%s", text.Truncate(fmt.Sprintf(note, args...), text.NoteLimit))
}

// recordReadyTransition records an event when Ready changes: its status, its reason, or
// the message of a failure. A reconcile that changes nothing records nothing.
func (r *GatewayReconciler) recordReadyTransition(gw *chatv1alpha1.GenesysGateway, before []metav1.Condition) {
	now := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReadyCondition)
	if now == nil {
		return
	}
	if was := meta.FindStatusCondition(before, chatv1alpha1.ReadyCondition); was != nil &&
		was.Status == now.Status && was.Reason == now.Reason &&
		(now.Status != metav1.ConditionFalse || was.Message == now.Message) {
		return
	}
	eventType := corev1.EventTypeNormal
	if now.Status == metav1.ConditionFalse {
		eventType = corev1.EventTypeWarning
	}
	r.event(gw, eventType, now.Reason, "%s", now.Message)
}

// recordGenesysTransition records an event when GenesysReachable turns False (a Warning
// naming the failing runners) and when it turns True again after being False.
func (r *GatewayReconciler) recordGenesysTransition(gw *chatv1alpha1.GenesysGateway, before []metav1.Condition) {
	now := meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.GenesysReachableCondition)
	if now == nil {
		return
	}
	was := meta.FindStatusCondition(before, chatv1alpha1.GenesysReachableCondition)
	wasFalse := was != nil && was.Status == metav1.ConditionFalse
	switch {
	case now.Status == metav1.ConditionFalse && !wasFalse:
		r.event(gw, corev1.EventTypeWarning, now.Reason, "%s", now.Message)
	case now.Status == metav1.ConditionTrue && wasFalse:
		r.event(gw, corev1.EventTypeNormal, eventGenesysRecovered, "%s", now.Message)
	}
}
