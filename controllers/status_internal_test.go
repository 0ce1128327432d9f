package controllers

import (
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// These tables test updateStatus, the one place conditions are decided, without an API
// server: each row is a scope as a reconcile could leave it, and the conditions it must
// give. The envtest specs show the same rules end to end.

// cond is a condition as the tables expect it; absent means the type must not be there.
type cond struct {
	status metav1.ConditionStatus
	reason string
}

var absent = cond{}

func statefulSet(generation, observed int64, replicas, updated, ready int32) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	sts.Generation = generation
	sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready}
	return sts
}

func deployedGateway(replicas int32) *chatv1alpha1.GenesysGateway {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant", Generation: 3}}
	gw.Spec.Deploy = true
	gw.Spec.Runner.Replicas = &replicas
	return gw
}

func expectCondition(g Gomega, gw *chatv1alpha1.GenesysGateway, typ string, want cond, row string) {
	got := meta.FindStatusCondition(gw.Status.Conditions, typ)
	if want == absent {
		g.Expect(got).To(BeNil(), "%s: %s must be absent", row, typ)
		return
	}
	g.Expect(got).NotTo(BeNil(), "%s: %s must be present", row, typ)
	g.Expect(cond{got.Status, got.Reason}).To(Equal(want), "%s: %s", row, typ)
	g.Expect(got.ObservedGeneration).To(Equal(gw.Generation), "%s: %s observedGeneration", row, typ)
}

func TestUpdateStatusReadyReconcilingStalled(t *testing.T) {
	g := NewWithT(t)
	stall := stalling(chatv1alpha1.InvalidConfigurationReason, errNoImage)
	g.Expect(errors.Is(stall, reconcile.TerminalError(nil))).To(BeTrue(), "a stalling error is terminal for controller-runtime")
	problem := &referenceProblem{chatv1alpha1.SecretNotFoundReason, `Secret "gms" named by spec.connection.basicAuth.secretRef not found`}

	for row, tc := range map[string]struct {
		scope                     scope
		ready, reconciling, stall cond
		message                   string
	}{
		"no image: stalled": {
			scope: scope{err: stall},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.InvalidConfigurationReason}, reconciling: absent,
			stall:   cond{metav1.ConditionTrue, chatv1alpha1.InvalidConfigurationReason},
			message: errNoImage.Error(),
		},
		"a child refused as invalid: stalled with the API server's words": {
			scope: scope{referencesChecked: true, err: stalling(chatv1alpha1.InvalidConfigurationReason, fmt.Errorf("applying *v1.StatefulSet tenant/acme-runner: %w", errors.New("spec.template: Invalid value")))},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.InvalidConfigurationReason}, reconciling: absent,
			stall:   cond{metav1.ConditionTrue, chatv1alpha1.InvalidConfigurationReason},
			message: "applying *v1.StatefulSet tenant/acme-runner: spec.template: Invalid value",
		},
		"an API call failed: not stalled, retried": {
			scope: scope{err: errors.New("reading Secret \"gms\": connection refused")},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.ReconciliationFailedReason}, reconciling: absent, stall: absent,
			message: "reading Secret \"gms\": connection refused",
		},
		"a reference that cannot be used": {
			scope: scope{referencesChecked: true, problem: problem},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.SecretNotFoundReason}, reconciling: absent, stall: absent,
			message: problem.message,
		},
		"credentials being checked: reconciling": {
			scope: scope{checkingCredentials: true},
			ready: cond{metav1.ConditionUnknown, chatv1alpha1.CheckingCredentialsReason}, reconciling: cond{metav1.ConditionTrue, chatv1alpha1.CheckingCredentialsReason}, stall: absent,
			message: checkingCredentials.message,
		},
		"valid and not deployed": {
			scope: scope{referencesChecked: true, runnersPruned: true},
			ready: cond{metav1.ConditionTrue, chatv1alpha1.NotDeployedReason}, reconciling: absent, stall: absent,
		},
		"runners rolled out": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 2)},
			ready: cond{metav1.ConditionTrue, chatv1alpha1.AvailableReason}, reconciling: absent, stall: absent,
			message: "2 of 2 runners ready",
		},
		"runners rolled out, one still waiting for Genesys' first answer: reconciling": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 2), runners: []chatv1alpha1.RunnerStatus{
				answered("acme-runner-0", 0), {Pod: "acme-runner-1"},
			}},
			ready: cond{metav1.ConditionUnknown, chatv1alpha1.ProbingGenesysReason}, reconciling: cond{metav1.ConditionTrue, chatv1alpha1.ProbingGenesysReason}, stall: absent,
			message: "Waiting for Genesys to answer runners acme-runner-1",
		},
		"runners rolled out and answered, one failure since: still Ready (no flapping)": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 2), runners: []chatv1alpha1.RunnerStatus{
				answered("acme-runner-0", 0), answered("acme-runner-1", unreachableAfter-1),
			}},
			ready: cond{metav1.ConditionTrue, chatv1alpha1.AvailableReason}, reconciling: absent, stall: absent,
		},
		"a runner Genesys left unanswered 3 times: GenesysUnreachable": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 2), runners: []chatv1alpha1.RunnerStatus{
				answered("acme-runner-0", 0), {Pod: "acme-runner-1", GenesysFailures: unreachableAfter, LastError: "gms refresh: dial tcp: lookup gms.acme.invalid: no such host"},
			}},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason}, reconciling: absent, stall: absent,
			message: "Genesys did not answer the runners 3 times in a row: acme-runner-1: gms refresh: dial tcp: lookup gms.acme.invalid: no such host",
		},
		"a runner whose credentials Genesys refuses 3 times: AuthenticationFailed": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 2), runners: []chatv1alpha1.RunnerStatus{
				{Pod: "acme-runner-0", GenesysFailures: 5, LastError: "gms refresh: HTTP 401", AuthError: "gms refresh: HTTP 401"},
				{Pod: "acme-runner-1", GenesysFailures: 4, LastError: "dial tcp: i/o timeout"},
			}},
			ready: cond{metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason}, reconciling: absent, stall: absent,
			message: "Genesys refuses the runners' credentials: acme-runner-0: gms refresh: HTTP 401",
		},
		"runners starting: reconciling": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 2, 1)},
			ready: cond{metav1.ConditionUnknown, chatv1alpha1.ProgressingReason}, reconciling: cond{metav1.ConditionTrue, chatv1alpha1.ProgressingReason}, stall: absent,
			message: "Waiting for runners: 1 of 2 ready",
		},
		"a StatefulSet change not yet observed by its controller: reconciling": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(3, 2, 2, 2, 2)},
			ready: cond{metav1.ConditionUnknown, chatv1alpha1.ProgressingReason}, reconciling: cond{metav1.ConditionTrue, chatv1alpha1.ProgressingReason}, stall: absent,
		},
		"a rolling update half done: reconciling": {
			scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 2, 1, 2)},
			ready: cond{metav1.ConditionUnknown, chatv1alpha1.ProgressingReason}, reconciling: cond{metav1.ConditionTrue, chatv1alpha1.ProgressingReason}, stall: absent,
		},
	} {
		s := tc.scope
		s.gateway = deployedGateway(2)
		if s.runnersPruned {
			s.gateway.Spec.Deploy = false
		}
		// Start from the opposite state, so that a condition left over would show.
		setCondition(s.gateway, chatv1alpha1.StalledCondition, metav1.ConditionTrue, "Old", "old")
		setCondition(s.gateway, chatv1alpha1.ReconcilingCondition, metav1.ConditionTrue, "Old", "old")
		updateStatus(&s)
		expectCondition(g, s.gateway, chatv1alpha1.ReadyCondition, tc.ready, row)
		expectCondition(g, s.gateway, chatv1alpha1.ReconcilingCondition, tc.reconciling, row)
		expectCondition(g, s.gateway, chatv1alpha1.StalledCondition, tc.stall, row)
		if tc.message != "" {
			g.Expect(meta.FindStatusCondition(s.gateway.Status.Conditions, chatv1alpha1.ReadyCondition).Message).To(Equal(tc.message), row)
		}
		g.Expect(s.gateway.Status.ObservedGeneration).To(Equal(int64(3)), row)
		g.Expect(s.gateway.Status.EscalationTokenSecretName).To(Equal("acme-escalation-token"), row)
	}
}

// answered is a runner entry Genesys answered, with failures since.
func answered(pod string, failures int32) chatv1alpha1.RunnerStatus {
	t := metav1.Now()
	return chatv1alpha1.RunnerStatus{Pod: pod, LastGenesysAnswerTime: &t, GenesysFailures: failures}
}

func TestUpdateStatusLeavesReadyAloneWhenNothingWasObserved(t *testing.T) {
	g := NewWithT(t)
	gw := deployedGateway(1)
	setCondition(gw, chatv1alpha1.ReadyCondition, metav1.ConditionTrue, chatv1alpha1.AvailableReason, "1 of 1 runners ready")
	updateStatus(&scope{gateway: gw})
	expectCondition(g, gw, chatv1alpha1.ReadyCondition, cond{metav1.ConditionTrue, chatv1alpha1.AvailableReason}, "nothing observed")
}

func TestUpdateStatusCredentialsReady(t *testing.T) {
	g := NewWithT(t)
	for row, tc := range map[string]struct {
		scope scope
		want  cond
	}{
		"not checked: unchanged": {scope: scope{err: errors.New("reading Secret: timeout")}, want: cond{metav1.ConditionTrue, "Before"}},
		"a problem":              {scope: scope{referencesChecked: true, problem: &referenceProblem{chatv1alpha1.ConfigMapKeyMissingReason, "no key"}}, want: cond{metav1.ConditionFalse, chatv1alpha1.ConfigMapKeyMissingReason}},
		"all usable":             {scope: scope{referencesChecked: true}, want: cond{metav1.ConditionTrue, chatv1alpha1.ReferencesResolvedReason}},
		"being checked":          {scope: scope{checkingCredentials: true}, want: cond{metav1.ConditionUnknown, chatv1alpha1.CheckingCredentialsReason}},
		"usable, then an apply failed": {
			scope: scope{referencesChecked: true, err: errors.New("applying: conflict")}, want: cond{metav1.ConditionTrue, chatv1alpha1.ReferencesResolvedReason},
		},
	} {
		s := tc.scope
		s.gateway = deployedGateway(1)
		setCondition(s.gateway, chatv1alpha1.CredentialsReadyCondition, metav1.ConditionTrue, "Before", "before")
		updateStatus(&s)
		expectCondition(g, s.gateway, chatv1alpha1.CredentialsReadyCondition, tc.want, row)
	}
}

func TestUpdateStatusRunnersAvailable(t *testing.T) {
	g := NewWithT(t)
	for row, tc := range map[string]struct {
		scope          scope
		want           cond
		desired, ready int32
	}{
		"pruned: absent, no runners":        {scope: scope{referencesChecked: true, runnersPruned: true}, want: absent, desired: 0, ready: 0},
		"rolled out":                        {scope: scope{referencesChecked: true, statefulSet: statefulSet(1, 1, 3, 3, 3)}, want: cond{metav1.ConditionTrue, chatv1alpha1.AvailableReason}, desired: 3, ready: 3},
		"starting":                          {scope: scope{referencesChecked: true, statefulSet: statefulSet(1, 1, 3, 3, 1)}, want: cond{metav1.ConditionFalse, chatv1alpha1.ProgressingReason}, desired: 3, ready: 1},
		"scaling down: extra pods still up": {scope: scope{referencesChecked: true, statefulSet: statefulSet(2, 2, 4, 3, 3)}, want: cond{metav1.ConditionFalse, chatv1alpha1.ProgressingReason}, desired: 3, ready: 3},
		"not reached: unchanged":            {scope: scope{referencesChecked: true, err: errors.New("applying Role: conflict")}, want: cond{metav1.ConditionTrue, "Before"}, desired: 7, ready: 7},
	} {
		s := tc.scope
		s.gateway = deployedGateway(3)
		if s.runnersPruned {
			s.gateway.Spec.Deploy = false
		}
		s.gateway.Status.DesiredRunners, s.gateway.Status.ReadyRunners = 7, 7
		setCondition(s.gateway, chatv1alpha1.RunnersAvailableCondition, metav1.ConditionTrue, "Before", "before")
		updateStatus(&s)
		expectCondition(g, s.gateway, chatv1alpha1.RunnersAvailableCondition, tc.want, row)
		g.Expect(s.gateway.Status.DesiredRunners).To(Equal(tc.desired), row)
		g.Expect(s.gateway.Status.ReadyRunners).To(Equal(tc.ready), row)
	}
}

func TestUpdateStatusGenesysReachable(t *testing.T) {
	g := NewWithT(t)
	polled := metav1.Now()
	for row, tc := range map[string]struct {
		deploy  bool
		runners []chatv1alpha1.RunnerStatus
		want    cond
		message string
	}{
		"not deployed: absent": {deploy: false, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0", LastError: "x"}}, want: absent},
		"no entries yet":       {deploy: true, want: cond{metav1.ConditionUnknown, chatv1alpha1.NoChatsReason}},
		"no chat polled yet":   {deploy: true, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0"}}, want: cond{metav1.ConditionUnknown, chatv1alpha1.NoChatsReason}},
		"polled without errors": {
			deploy: true, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0", LastPollTime: &polled}, {Pod: "acme-runner-1"}},
			want: cond{metav1.ConditionTrue, chatv1alpha1.PollSucceededReason},
		},
		"a chat's own error is not the runner's": {
			deploy: true, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0", LastPollTime: &polled, Chats: []chatv1alpha1.ChatStatus{
				{ID: "r0-1", State: chatv1alpha1.ChatFailed, LastError: "gms refresh: statusCode 2 (chat ended): 249"},
			}}},
			want: cond{metav1.ConditionTrue, chatv1alpha1.PollSucceededReason},
		},
		"a runner's error, sorted by pod": {
			deploy: true, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-1", LastError: "timeout"}, {Pod: "acme-runner-0", LastError: "502", LastPollTime: &polled}},
			want: cond{metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason}, message: "Runners report Chat API errors: acme-runner-0: 502; acme-runner-1: timeout",
		},
		"authentication comes first": {
			deploy: true, runners: []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0", LastError: "502"}, {Pod: "acme-runner-1", AuthError: "token refused"}},
			want: cond{metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason}, message: "Runners cannot authenticate to Genesys: acme-runner-1: token refused",
		},
	} {
		s := scope{gateway: deployedGateway(2), runners: tc.runners, referencesChecked: true}
		s.gateway.Spec.Deploy = tc.deploy
		setCondition(s.gateway, chatv1alpha1.GenesysReachableCondition, metav1.ConditionTrue, "Before", "before")
		updateStatus(&s)
		expectCondition(g, s.gateway, chatv1alpha1.GenesysReachableCondition, tc.want, row)
		if tc.message != "" {
			g.Expect(meta.FindStatusCondition(s.gateway.Status.Conditions, chatv1alpha1.GenesysReachableCondition).Message).To(Equal(tc.message), row)
		}
		g.Expect(meta.FindStatusCondition(s.gateway.Status.Conditions, chatv1alpha1.ReadyCondition)).To(BeNil(), "%s: GenesysReachable never sets Ready", row)
	}
}

func TestSumRunners(t *testing.T) {
	g := NewWithT(t)
	g.Expect(sumRunners(nil)).To(Equal(chatv1alpha1.ChatCounters{}))
	g.Expect(sumRunners([]chatv1alpha1.RunnerStatus{
		{Pod: "a", ChatCounters: chatv1alpha1.ChatCounters{Agents: 2, Capacity: 4, ActiveChats: 3, WaitingChats: 1, ConnectedChats: 2, EndedChatsTotal: 5, FailedChatsTotal: 1}},
		{Pod: "b", ChatCounters: chatv1alpha1.ChatCounters{Agents: 1, Capacity: 2, ActiveChats: 1, ConnectedChats: 1, EndedChatsTotal: 7}},
	})).To(Equal(chatv1alpha1.ChatCounters{Agents: 3, Capacity: 6, ActiveChats: 4, WaitingChats: 1, ConnectedChats: 3, EndedChatsTotal: 12, FailedChatsTotal: 1}))
}

func TestPartitionRunnersKeepsTheDesiredPodsOnly(t *testing.T) {
	g := NewWithT(t)
	gw := deployedGateway(2)
	gw.Status.Runners = []chatv1alpha1.RunnerStatus{{Pod: "acme-runner-0"}, {Pod: "acme-runner-2"}, {Pod: "acme-runner-1"}, {Pod: "other-runner-0"}}
	live, stale := partitionRunners(gw)
	g.Expect(podsOfEntries(live)).To(Equal([]string{"acme-runner-0", "acme-runner-1"}))
	g.Expect(stale).To(Equal([]int{1, 3}))

	gw.Spec.Deploy = false
	live, stale = partitionRunners(gw)
	g.Expect(live).To(BeEmpty(), "not deployed: every entry is stale")
	g.Expect(stale).To(Equal([]int{0, 1, 2, 3}))
}

func podsOfEntries(entries []chatv1alpha1.RunnerStatus) []string {
	var pods []string
	for _, e := range entries {
		pods = append(pods, e.Pod)
	}
	return pods
}
