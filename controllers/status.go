package controllers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// updateStatus derives the gateway's status from what the reconcile observed: every
// condition the operator owns, the runner counts, the chat totals and the chat stores. It
// is the only place that decides a condition, and it reads nothing but the scope, so each
// rule can be tested without an API server.
func updateStatus(s *scope) {
	gw := s.gateway
	gw.Status.EscalationTokenSecretName = gateway.TokenSecretName(gw)
	setCredentialsReadyCondition(s)
	setRunnersAvailableCondition(s)
	setGenesysReachableCondition(s)
	setReadyCondition(s)
	gw.Status.ChatCounters = sumRunners(s.runners)
	if s.storesObserved {
		gw.Status.ChatStores = slices.Clone(s.chatStores)
		if len(gw.Status.ChatStores) == 0 {
			gw.Status.ChatStores = nil
		}
	}
	gw.Status.ObservedGeneration = gw.Generation
}

// setCredentialsReadyCondition reports whether every reference can be used (Unknown while
// their credentials are being checked); unchanged when the reconcile stopped before
// checking them.
func setCredentialsReadyCondition(s *scope) {
	switch {
	case s.checkingCredentials:
		setCondition(s.gateway, chatv1alpha1.CredentialsReadyCondition, metav1.ConditionUnknown, chatv1alpha1.CheckingCredentialsReason, checkingCredentials.message)
	case !s.referencesChecked:
	case s.problem != nil:
		setCondition(s.gateway, chatv1alpha1.CredentialsReadyCondition, metav1.ConditionFalse, s.problem.reason, s.problem.message)
	default:
		setCondition(s.gateway, chatv1alpha1.CredentialsReadyCondition, metav1.ConditionTrue, chatv1alpha1.ReferencesResolvedReason,
			"Every referenced Secret and ConfigMap has the keys the gateway needs")
	}
}

// setRunnersAvailableCondition reports the runner StatefulSet's rollout and the runner
// counts: absent once the runners of a gateway that is not deployed are gone, unchanged
// when the reconcile stopped before reaching the StatefulSet.
func setRunnersAvailableCondition(s *scope) {
	gw := s.gateway
	switch {
	case s.runnersPruned:
		gw.Status.DesiredRunners, gw.Status.ReadyRunners, gw.Status.Selector = 0, 0, ""
		meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.RunnersAvailableCondition)
	case s.statefulSet != nil:
		desired := gateway.Replicas(gw)
		gw.Status.DesiredRunners = desired
		gw.Status.Selector = labels.SelectorFromSet(gateway.SelectorLabels(gw)).String()
		gw.Status.ReadyRunners = s.statefulSet.Status.ReadyReplicas
		if rolledOut(s.statefulSet, desired) {
			setCondition(gw, chatv1alpha1.RunnersAvailableCondition, metav1.ConditionTrue, chatv1alpha1.AvailableReason, runnersMessage(s))
		} else {
			setCondition(gw, chatv1alpha1.RunnersAvailableCondition, metav1.ConditionFalse, chatv1alpha1.ProgressingReason, runnersMessage(s))
		}
	}
}

// rolledOut tells whether every desired runner of the StatefulSet's current revision is
// ready.
func rolledOut(sts *appsv1.StatefulSet, desired int32) bool {
	return sts.Generation > 0 &&
		sts.Status.ObservedGeneration >= sts.Generation &&
		sts.Status.Replicas == desired &&
		sts.Status.UpdatedReplicas == desired &&
		sts.Status.ReadyReplicas == desired
}

// runnersMessage says how many runners are ready.
func runnersMessage(s *scope) string {
	desired := gateway.Replicas(s.gateway)
	if rolledOut(s.statefulSet, desired) {
		return fmt.Sprintf("%d of %d runners ready", desired, desired)
	}
	return fmt.Sprintf("Waiting for runners: %d of %d ready", s.statefulSet.Status.ReadyReplicas, desired)
}

// setGenesysReachableCondition sets GenesysReachable from the live runner entries: False
// while any runner reports an error (AuthenticationFailed when it cannot authenticate),
// True once one has polled a chat and none reports an error, Unknown until then. A runner
// clears its lastError once its calls succeed again. The condition is absent while the
// gateway is not deployed.
func setGenesysReachableCondition(s *scope) {
	gw := s.gateway
	if !gw.Spec.Deploy {
		meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.GenesysReachableCondition)
		return
	}
	runners := slices.SortedFunc(slices.Values(s.runners), func(a, b chatv1alpha1.RunnerStatus) int {
		return cmp.Compare(a.Pod, b.Pod)
	})
	var failing, unauthenticated []string
	polled := false
	for _, entry := range runners {
		if entry.AuthError != "" {
			unauthenticated = append(unauthenticated, entry.Pod+": "+entry.AuthError)
		}
		if entry.LastError != "" {
			failing = append(failing, entry.Pod+": "+entry.LastError)
		}
		polled = polled || entry.LastPollTime != nil
	}
	switch {
	case len(unauthenticated) > 0:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason,
			"Runners cannot authenticate to Genesys: "+strings.Join(unauthenticated, "; "))
	case len(failing) > 0:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason,
			"Runners report Chat API errors: "+strings.Join(failing, "; "))
	case polled:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionTrue, chatv1alpha1.PollSucceededReason,
			"The runners poll their chats on Genesys without errors")
	default:
		setCondition(gw, chatv1alpha1.GenesysReachableCondition, metav1.ConditionUnknown, chatv1alpha1.NoChatsReason,
			"No runner has polled a chat on Genesys yet")
	}
}

// setReadyCondition sets Ready, with Reconciling and Stalled present only while true
// (kstatus). The first of these decides: a spec that must change (Stalled), a call that
// failed and is retried, a reference that cannot be used, credentials being checked
// (Reconciling), a valid gateway that is not deployed, runners rolled out, runners on
// their way (Reconciling). GenesysReachable does not count: a Genesys outage is not a
// problem of the gateway's configuration.
func setReadyCondition(s *scope) {
	gw := s.gateway
	var status metav1.ConditionStatus
	var reason, message string
	reconciling := false
	stalled, isStalled := asStalling(s.err)
	switch {
	case isStalled:
		status, reason, message = metav1.ConditionFalse, stalled.reason, stalled.Error()
	case s.err != nil:
		status, reason, message = metav1.ConditionFalse, chatv1alpha1.ReconciliationFailedReason, s.err.Error()
	case s.problem != nil:
		status, reason, message = metav1.ConditionFalse, s.problem.reason, s.problem.message
	case s.checkingCredentials:
		status, reason, message, reconciling = metav1.ConditionUnknown, chatv1alpha1.CheckingCredentialsReason, checkingCredentials.message, true
	case s.runnersPruned:
		status, reason, message = metav1.ConditionTrue, chatv1alpha1.NotDeployedReason, "The configuration is valid; deploy is false, so no runners run"
	case s.statefulSet != nil && rolledOut(s.statefulSet, gateway.Replicas(gw)):
		status, reason, message, reconciling = genesysVerdict(s)
	case s.statefulSet != nil:
		status, reason, message, reconciling = metav1.ConditionUnknown, chatv1alpha1.ProgressingReason, runnersMessage(s), true
	default:
		return // nothing observed: Ready stays as it was
	}
	setCondition(gw, chatv1alpha1.ReadyCondition, status, reason, message)
	meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.ReconcilingCondition)
	meta.RemoveStatusCondition(&gw.Status.Conditions, chatv1alpha1.StalledCondition)
	if reconciling {
		setCondition(gw, chatv1alpha1.ReconcilingCondition, metav1.ConditionTrue, reason, message)
	}
	if isStalled {
		setCondition(gw, chatv1alpha1.StalledCondition, metav1.ConditionTrue, reason, message)
	}
}

// unreachableAfter is how many calls and probes in a row Genesys must leave unanswered on
// a runner before the gateway is not Ready: a single lost call does not flap GitOps
// health, and an idle runner failing its probes (every 10 s) turns Ready False within
// about half a minute. The first answer turns it back.
const unreachableAfter = 3

// genesysVerdict is Ready of a gateway whose runners are rolled out: True only when every
// runner that reports has had an answer from Genesys and none has had unreachableAfter
// failures in a row since (False, AuthenticationFailed or GenesysUnreachable, with the
// runners' errors, never a secret); Unknown and Reconciling while a runner waits for its
// first answer. With no runner entry yet, the rollout decides.
func genesysVerdict(s *scope) (metav1.ConditionStatus, string, string, bool) {
	runners := slices.SortedFunc(slices.Values(s.runners), func(a, b chatv1alpha1.RunnerStatus) int {
		return cmp.Compare(a.Pod, b.Pod)
	})
	var unauthenticated, unreachable, waiting []string
	for _, r := range runners {
		switch {
		case r.GenesysFailures >= unreachableAfter && r.AuthError != "":
			unauthenticated = append(unauthenticated, r.Pod+": "+r.AuthError)
		case r.GenesysFailures >= unreachableAfter:
			unreachable = append(unreachable, r.Pod+": "+r.LastError)
		case r.LastGenesysAnswerTime == nil:
			waiting = append(waiting, r.Pod)
		}
	}
	switch {
	case len(unauthenticated) > 0:
		return metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason,
			"Genesys refuses the runners' credentials: " + strings.Join(unauthenticated, "; "), false
	case len(unreachable) > 0:
		return metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason,
			fmt.Sprintf("Genesys did not answer the runners %d times in a row: %s", unreachableAfter, strings.Join(unreachable, "; ")), false
	case len(waiting) > 0:
		return metav1.ConditionUnknown, chatv1alpha1.ProbingGenesysReason,
			"Waiting for Genesys to answer runners " + strings.Join(waiting, ", "), true
	}
	return metav1.ConditionTrue, chatv1alpha1.AvailableReason, runnersMessage(s), false
}

// setCondition sets a condition for the gateway's current generation; its transition
// time changes only when its status does.
func setCondition(gw *chatv1alpha1.GenesysGateway, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&gw.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: gw.Generation,
	})
}

// sumRunners adds up the counters of the live runner entries: the gateway's totals.
func sumRunners(runners []chatv1alpha1.RunnerStatus) chatv1alpha1.ChatCounters {
	var sum chatv1alpha1.ChatCounters
	for _, r := range runners {
		c := r.ChatCounters
		sum.Agents += c.Agents
		sum.Capacity += c.Capacity
		sum.ActiveChats += c.ActiveChats
		sum.WaitingChats += c.WaitingChats
		sum.ConnectedChats += c.ConnectedChats
		sum.EndedChatsTotal += c.EndedChatsTotal
		sum.FailedChatsTotal += c.FailedChatsTotal
	}
	return sum
}
