//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// Serial: it restarts the operator, which every gateway depends on.
var _ = Describe("A gateway's lifecycle: runner loss, operator restart, deletion", Ordered, Serial, func() {
	var t *tenant

	BeforeAll(func() {
		t = newTenant()
		expectAvailable(t.gw)
	})

	It("replaces a deleted runner pod; the chat it carried survives: the new pod resumes it", func() {
		b := botFor(t.gw)
		old := expectRunnerPodReady(t.gw, "")

		By("a chat connected to an agent on runner 0, its events read by the bot")
		id := b.escalate("conv-e2e-runner-loss", t.domain)
		genesysID := b.waitChat(id, escalation.ChatWaitingForAgent).GenesysChatID
		Expect(t.sim.ctl.Join(ctx, genesysID, gmssim.Agent{Nickname: "Bob"})).To(Succeed())
		Expect(t.sim.ctl.Message(ctx, genesysID, "Before the runner goes")).To(Succeed())
		b.waitChat(id, escalation.ChatConnected)
		before := b.longPoll(id, func(evs []escalation.Event) bool {
			return hasEvent(evs, escalation.EventMessage, "Before the runner goes")
		})
		expectContiguous(before, 0)
		lastSeq := before[len(before)-1].Seq
		Eventually(func(g Gomega) []string { return chatIDsInStatus(g, t.gw) }).Should(ContainElement(id))
		readyBefore := condition(gateway(Default, t.gw), chatv1alpha1.ReadyCondition).LastTransitionTime

		By("watching the gateway while its runner pod goes")
		notReady := watchNotReady(t.gw)

		By("deleting pod " + old.Name + " mid-chat, then the agent writing while it is away")
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		deleted := time.Now()
		Expect(t.sim.ctl.Message(ctx, genesysID, "While the runner is replaced")).To(Succeed())
		pod := expectRunnerPodReady(t.gw, string(old.UID))
		say("runner pod replaced: UID %s -> %s, Ready %s after the deletion\n", old.UID, pod.UID, time.Since(deleted).Round(time.Millisecond))

		By("the gateway went not ready, then Ready again with the new runner")
		var seen string
		Eventually(notReady).Should(Receive(&seen))
		fmt.Fprintf(GinkgoWriter, "gateway while the runner was replaced: %s\n", seen)
		after := expectAvailable(t.gw)
		Expect(after.LastTransitionTime.After(readyBefore.Time)).To(BeTrue(), "Ready turned True again after the deletion")

		By("the new runner resumed the chat: GET /v1/chats/{id} answers 200, Connected")
		c := b.waitChat(id, escalation.ChatConnected)
		Expect(c.GenesysChatID).To(Equal(genesysID))
		Expect(t.sim.chat(Default, genesysID).Ended).To(BeFalse())

		By("the bot reading on from seq " + strconv.FormatInt(lastSeq, 10) + ": the agent's message sent after the deletion, seq continuing")
		var more []escalation.Event
		next := lastSeq
		Eventually(func(g Gomega) {
			page, err := b.api.Events(ctx, id, next, 30*time.Second)
			g.Expect(err).NotTo(HaveOccurred(), "events")
			more = append(more, page.Events...)
			next = max(next, page.Next)
			g.Expect(hasEvent(more, escalation.EventMessage, "While the runner is replaced")).To(BeTrue(), "events after seq %d: %v", lastSeq, more)
		}).WithPolling(10 * time.Millisecond).Should(Succeed())
		expectContiguous(more, lastSeq)
		Expect(hasEvent(more, escalation.EventMessage, "Before the runner goes")).To(BeFalse(), "no event is delivered twice")

		By("the user's message reaching the agent through the new runner")
		Eventually(func() error {
			return b.api.SendMessage(ctx, id, escalation.MessageRequest{Text: "Are you still there?"})
		}).Should(Succeed(), "204")
		Expect(t.sim.chat(Default, genesysID).Transcript).To(ContainElement(SatisfyAll(
			HaveField("Type", gms.EventMessage), HaveField("Text", "Are you still there?"), HaveField("From.Type", gms.ParticipantClient))))

		By("the new runner's status entry (same pod name) lists the chat again, resumed")
		Eventually(func(g Gomega) {
			st := gateway(g, t.gw).Status
			g.Expect(st.Runners).To(HaveLen(1))
			g.Expect(st.Runners[0].Pod).To(Equal(pod.Name))
			g.Expect(st.Runners[0].ChatsResumed).To(BeNumerically(">=", 1))
			g.Expect(chatIDsInStatus(g, t.gw)).To(ContainElement(id))
		}).Should(Succeed())

		By("the agent closing the chat: the resumed chat ends normally")
		Expect(t.sim.ctl.Close(ctx, genesysID)).To(Succeed())
		Expect(b.waitChat(id, escalation.ChatEnded).EndReason).To(Equal(escalation.EndAgentClosed))
	})

	It("changes nothing when the operator restarts", func() {
		children := runnerChildren(t.gw)
		versions := func(g Gomega) map[string]string {
			rv := map[string]string{}
			for _, o := range children {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
				rv[fmt.Sprintf("%T %s", o, o.GetName())] = o.GetResourceVersion()
			}
			return rv
		}

		By("recording the gateway and its settled children")
		expectAvailable(t.gw)
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: t.gw.Name + "-runner"}, sts)).To(Succeed())
			g.Expect(sts.Status.ObservedGeneration).To(Equal(sts.Generation))
			g.Expect(sts.Status.AvailableReplicas).To(Equal(int32(1)))
			g.Expect(sts.Status.CurrentRevision).To(Equal(sts.Status.UpdateRevision))
		}).Should(Succeed())
		before := versions(Default)
		gw := gateway(Default, t.gw)
		generation := gw.Generation
		Expect(gw.Status.ObservedGeneration).To(Equal(generation))
		ready := *condition(gw, chatv1alpha1.ReadyCondition)
		unchanged := func(g Gomega) {
			g.Expect(versions(g)).To(Equal(before), "resourceVersions of the children")
			gw := gateway(g, t.gw)
			g.Expect(gw.Generation).To(Equal(generation))
			g.Expect(gw.Status.ObservedGeneration).To(Equal(generation))
			c := condition(gw, chatv1alpha1.ReadyCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(ready.Status))
			g.Expect(c.LastTransitionTime.Equal(&ready.LastTransitionTime)).To(BeTrue(), "Ready's lastTransitionTime")
		}
		Consistently(unchanged).WithTimeout(3*time.Second).Should(Succeed(), "settled before the restart")

		By("deleting the operator pod")
		old := operatorPods(Default)
		Expect(old).To(HaveLen(1))
		Expect(k8s.Delete(ctx, &old[0])).To(Succeed())
		var pod corev1.Pod
		Eventually(func(g Gomega) {
			pods := operatorPods(g)
			g.Expect(pods).To(HaveLen(1))
			pod = pods[0]
			g.Expect(pod.UID).NotTo(Equal(old[0].UID))
			g.Expect(pod.Status.Conditions).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionTrue))))
		}).Should(Succeed())

		By("the new operator pod " + pod.Name + " leading and having reconciled the gateways")
		Eventually(func(g Gomega) string {
			lease := &coordinationv1.Lease{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorLease}, lease)).To(Succeed())
			g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
			return *lease.Spec.HolderIdentity
		}).Should(HavePrefix(pod.Name + "_"))
		Eventually(func(g Gomega) {
			status, _ := scrapeOperator(g, pod.Name, "")
			g.Expect(status).To(Equal(http.StatusUnauthorized), "the metrics refuse an unauthenticated scrape")
			m := operatorMetrics(g, pod.Name)
			g.Expect(metricSum(g, m, "controller_runtime_reconcile_total", `controller="genesysgateway"`)).To(BeNumerically(">=", 1))
			g.Expect(metricSum(g, m, "workqueue_depth", `name="genesysgateway"`)).To(BeZero())
			g.Expect(metricSum(g, m, "controller_runtime_active_workers", `controller="genesysgateway"`)).To(BeZero())
		}).Should(Succeed())

		By("nothing changed, and nothing changes")
		Consistently(unchanged).Should(Succeed())
	})

	It("deletes every child with the gateway (garbage collection)", func() {
		gw := gateway(Default, t.gw)
		children := runnerChildren(t.gw)
		for _, o := range children {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
			Expect(o.GetOwnerReferences()).To(ContainElement(SatisfyAll(
				HaveField("UID", gw.UID), HaveField("Controller", HaveValue(BeTrue())))), "%T %s is owned by the gateway", o, o.GetName())
		}

		By("deleting the gateway")
		Expect(k8s.Delete(ctx, gw)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, t.gw, &chatv1alpha1.GenesysGateway{})) }).Should(BeTrue())
		for _, o := range children {
			Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(o), o) }).
				Should(Satisfy(apierrors.IsNotFound), "%T %s deleted", o, o.GetName())
		}
		Eventually(func(g Gomega) []corev1.Pod {
			pods := &corev1.PodList{}
			g.Expect(k8s.List(ctx, pods, client.InNamespace(t.ns), runnerSelector(t.gw))).To(Succeed())
			return pods.Items
		}).Should(BeEmpty(), "runner pods deleted")
	})
})

// expectAvailable waits for Ready True Available with its one runner ready, for the
// current generation, and returns the condition.
func expectAvailable(key client.ObjectKey) metav1.Condition {
	GinkgoHelper()
	return expectAvailableN(key, 1)
}

// expectAvailableN waits for Ready True Available with all n runners ready, for the
// current generation, and returns the condition.
func expectAvailableN(key client.ObjectKey, n int32) metav1.Condition {
	GinkgoHelper()
	var c metav1.Condition
	Eventually(func(g Gomega) {
		gw := gateway(g, key)
		g.Expect(gw.Status.ObservedGeneration).To(Equal(gw.Generation))
		ready := condition(gw, chatv1alpha1.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(ready.Reason).To(Equal(chatv1alpha1.AvailableReason))
		g.Expect(gw.Status.ReadyRunners).To(Equal(gw.Status.DesiredRunners))
		g.Expect(gw.Status.ReadyRunners).To(Equal(n))
		c = *ready
	}).Should(Succeed())
	return c
}

// expectContiguous expects events to continue a chat's sequence after seq after, one
// seq each: no event lost or repeated.
func expectContiguous(events []escalation.Event, after int64) {
	GinkgoHelper()
	for i, e := range events {
		Expect(e.Seq).To(Equal(after+int64(i)+1), "event %d of %v", i, events)
	}
}

// watchNotReady watches a gateway and reports, once, a state with a runner missing or
// Ready not True. The watch stops when the spec ends.
func watchNotReady(key client.ObjectKey) <-chan string {
	GinkgoHelper()
	wctx, cancel := context.WithCancel(ctx)
	w, err := k8s.Watch(wctx, &chatv1alpha1.GenesysGatewayList{}, client.InNamespace(key.Namespace),
		client.MatchingFields{"metadata.name": key.Name})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { w.Stop(); cancel() })
	seen := make(chan string, 1)
	go func() {
		defer GinkgoRecover()
		for ev := range w.ResultChan() {
			gw, ok := ev.Object.(*chatv1alpha1.GenesysGateway)
			if !ok {
				continue
			}
			ready := condition(gw, chatv1alpha1.ReadyCondition)
			if gw.Status.ReadyRunners < 1 || ready == nil || ready.Status != metav1.ConditionTrue {
				desc := fmt.Sprintf("readyRunners %d", gw.Status.ReadyRunners)
				if ready != nil {
					desc += fmt.Sprintf(", Ready %s %s: %s", ready.Status, ready.Reason, ready.Message)
				}
				select {
				case seen <- desc:
				default:
				}
			}
		}
	}()
	return seen
}

// chatIDsInStatus lists the chat ids of every runner entry of a gateway's status.
func chatIDsInStatus(g Gomega, key client.ObjectKey) []string {
	var ids []string
	for _, r := range gateway(g, key).Status.Runners {
		for _, c := range r.Chats {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// runnerChildren are the objects the operator creates for a deployed gateway that names
// no token Secret (empty, to be read).
func runnerChildren(key client.ObjectKey) []client.Object {
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: key.Namespace, Name: name} }
	return []client.Object{
		&appsv1.StatefulSet{ObjectMeta: om(key.Name + "-runner")},
		&corev1.Service{ObjectMeta: om(key.Name + "-runners")},
		&corev1.Service{ObjectMeta: om(key.Name + "-escalations")},
		&corev1.ServiceAccount{ObjectMeta: om(key.Name + "-runner")},
		&rbacv1.Role{ObjectMeta: om(key.Name + "-runner")},
		&rbacv1.RoleBinding{ObjectMeta: om(key.Name + "-runner")},
		&corev1.Secret{ObjectMeta: om(key.Name + "-escalation-token")},
	}
}

// operatorPods lists the operator's pods that are not being deleted.
func operatorPods(g Gomega) []corev1.Pod {
	pods := &corev1.PodList{}
	g.Expect(k8s.List(ctx, pods, client.InNamespace(operatorNamespace), client.MatchingLabels{
		"app.kubernetes.io/name": "genesys-gateway-operator", "app.kubernetes.io/component": "operator",
	})).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// metricSum sums the samples of a metric whose labels contain a label pair; it fails when
// there is none.
func metricSum(g Gomega, text []byte, name, label string) float64 {
	var sum float64
	found := false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		g.Expect(err).NotTo(HaveOccurred(), "metric line %q", line)
		sum += v
		found = true
	}
	g.Expect(found).To(BeTrue(), "metric %s{%s}", name, label)
	return sum
}
