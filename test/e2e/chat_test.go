//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

var _ = Describe("A deployed gateway in a restricted namespace", Ordered, func() {
	var t *tenant

	BeforeAll(func() {
		t = newTenant()
	})

	It("runs Ready runner pods admitted as restricted, and becomes Ready", func() {
		By("kubectl wait --for=condition=Ready gg/" + t.gw.Name + ", as the README says")
		kubectl("-n", t.ns, "wait", "--for=condition=Ready", "gg/"+t.gw.Name, "--timeout=3m")

		gw := gateway(Default, t.gw)
		Expect(gw.Status.ObservedGeneration).To(Equal(gw.Generation))
		Expect(condition(gw, chatv1alpha1.ReadyCondition)).To(SatisfyAll(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", chatv1alpha1.AvailableReason)))
		Expect(gw.Status.DesiredRunners).To(Equal(int32(1)))
		Expect(gw.Status.ReadyRunners).To(Equal(int32(1)))

		By("the runner pod: Running, Ready, the operator's image, in a namespace enforcing restricted")
		pod := expectRunnerPodReady(t.gw, "")
		c := pod.Spec.Containers[0]
		Expect(c.Image).To(Equal(cfg.image), "RUNNER_IMAGE, from the install")
		Expect(c.ImagePullPolicy).To(Equal(cfg.pullPolicy))
		Expect(c.Args).To(ContainElement("--gateway=" + t.ns + "/" + t.gw.Name))
		ns := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: t.ns}, ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"),
			"the pod was admitted by the restricted Pod Security Standard")
		sts := &appsv1.StatefulSet{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: t.gw.Name + "-runner"}, sts)).To(Succeed())
		Expect(sts.Status.ReadyReplicas).To(Equal(int32(1)))
	})

	It("carries a chat end to end through the escalation Service, and the runner reports it itself", func() {
		b := botFor(t.gw)
		pod := expectRunnerPodReady(t.gw, "").Name
		statesSeen := map[chatv1alpha1.ChatState]bool{}
		chatInStatus := func(g Gomega, id string) chatv1alpha1.ChatStatus {
			st := gateway(g, t.gw).Status
			g.Expect(st.Runners).To(HaveLen(1))
			g.Expect(st.Runners[0].Pod).To(Equal(pod))
			var found *chatv1alpha1.ChatStatus
			for i := range st.Runners[0].Chats {
				if st.Runners[0].Chats[i].ID == id {
					found = &st.Runners[0].Chats[i]
				}
			}
			g.Expect(found).NotTo(BeNil(), "chat %s in status.runners[0].chats", id)
			statesSeen[found.State] = true
			return *found
		}

		By("the bot escalating through the escalation Service (ClusterIP:80) with the generated token")
		id := b.escalate("conv-e2e-chat", t.domain)
		genesysID := b.waitChat(id, escalation.ChatWaitingForAgent).GenesysChatID
		Expect(genesysID).NotTo(BeEmpty())
		Eventually(func(g Gomega) {
			c := chatInStatus(g, id)
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatWaitingForAgent))
			g.Expect(c.GenesysChatID).To(Equal(genesysID))
			g.Expect(c.ConversationID).To(Equal("conv-e2e-chat"))
		}).Should(Succeed())
		sc := t.sim.chat(Default, genesysID)
		Expect(sc.FirstName).To(Equal("Jane"))
		Expect(sc.UserData).To(HaveKeyWithValue("Plan", "Gold"))

		By("the agent joining and answering (simulator control API, ClusterIP:8090)")
		Expect(t.sim.ctl.Join(ctx, genesysID, gmssim.Agent{Nickname: "Alice", Email: "alice@acme.example"})).To(Succeed())
		Expect(t.sim.ctl.Message(ctx, genesysID, "Hello Jane, how can I help?")).To(Succeed())

		By("the bot reading the events with long polls")
		events := b.longPoll(id, func(evs []escalation.Event) bool {
			return hasEvent(evs, escalation.EventAgentJoined, "") && hasEvent(evs, escalation.EventMessage, "Hello Jane, how can I help?")
		})
		Expect(events).To(ContainElement(SatisfyAll(HaveField("Kind", escalation.EventAgentJoined), HaveField("Agent", "Alice"))))
		Eventually(func(g Gomega) {
			c := chatInStatus(g, id)
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatConnected))
			g.Expect(c.Agent).To(Equal("Alice"))
		}).Should(Succeed())

		By("the user replying: the simulator's transcript has it")
		Expect(b.api.SendMessage(ctx, id, escalation.MessageRequest{Text: "My bill is wrong"})).To(Succeed(), "204")
		Expect(t.sim.chat(Default, genesysID).Transcript).To(ContainElement(SatisfyAll(
			HaveField("Type", gms.EventMessage), HaveField("Text", "My bill is wrong"), HaveField("From.Type", gms.ParticipantClient))))

		By("the agent closing the chat: it ends AgentClosed")
		Expect(t.sim.ctl.Close(ctx, genesysID)).To(Succeed())
		c := b.waitChat(id, escalation.ChatEnded)
		Expect(c.EndReason).To(Equal(escalation.EndAgentClosed))
		b.longPoll(id, func(evs []escalation.Event) bool { return hasEvent(evs, escalation.EventEnded, "") })
		Eventually(func(g Gomega) {
			c := chatInStatus(g, id)
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatEnded))
			g.Expect(c.EndReason).To(Equal(chatv1alpha1.EndAgentClosed))
			g.Expect(c.EndTime).NotTo(BeNil())
			g.Expect(gateway(g, t.gw).Status.EndedChatsTotal).To(BeNumerically(">=", 1), "summed by the operator")
		}).Should(Succeed())
		Expect(statesSeen).To(SatisfyAll(
			HaveKey(chatv1alpha1.ChatWaitingForAgent), HaveKey(chatv1alpha1.ChatConnected), HaveKey(chatv1alpha1.ChatEnded)))

		By("the runner's entry written by its own field manager chat-runner/" + pod + " on the status subresource")
		Expect(gateway(Default, t.gw).ManagedFields).To(ContainElement(SatisfyAll(
			HaveField("Manager", "chat-runner/"+pod),
			HaveField("Subresource", "status"),
			HaveField("Operation", metav1.ManagedFieldsOperationApply),
			WithTransform(ownsRunnerEntry(pod), BeTrue()))))

		By("events regarding the gateway, reported by chat-runner from the pod, for each transition")
		Eventually(func(g Gomega) []string {
			var list eventsv1.EventList
			g.Expect(k8s.List(ctx, &list, client.InNamespace(t.ns))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "GenesysGateway" && e.Regarding.Name == t.gw.Name &&
					e.ReportingController == "chat-runner" && e.ReportingInstance == pod && strings.Contains(e.Note, id) {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}).Should(ContainElements("ChatRequested", "AgentJoined", "ChatEnded"))
	})
})

// hasEvent tells whether escalation API events hold one of a kind (and a text, if given).
func hasEvent(evs []escalation.Event, kind escalation.EventKind, text string) bool {
	for _, e := range evs {
		if e.Kind == kind && (text == "" || e.Text == text) {
			return true
		}
	}
	return false
}

// ownsRunnerEntry tells whether a managed fields entry owns the status.runners entry of a pod.
func ownsRunnerEntry(pod string) func(metav1.ManagedFieldsEntry) bool {
	return func(m metav1.ManagedFieldsEntry) bool {
		if m.FieldsV1 == nil {
			return false
		}
		var fields map[string]map[string]map[string]any
		if err := json.Unmarshal(m.FieldsV1.GetRawBytes(), &fields); err != nil {
			return false
		}
		_, ok := fields["f:status"]["f:runners"][`k:{"pod":"`+pod+`"}`]
		return ok
	}
}

// condition finds a condition of a gateway (nil when absent).
func condition(gw *chatv1alpha1.GenesysGateway, typ string) *metav1.Condition {
	for i := range gw.Status.Conditions {
		if gw.Status.Conditions[i].Type == typ {
			return &gw.Status.Conditions[i]
		}
	}
	return nil
}

// expectRunnerPodReady waits for runner 0's pod to run, Ready, and not be the pod of UID
// notUID (when given); it returns the pod.
func expectRunnerPodReady(key client.ObjectKey, notUID string) *corev1.Pod {
	GinkgoHelper()
	pod := &corev1.Pod{}
	Eventually(func(g Gomega) {
		pods := &corev1.PodList{}
		g.Expect(k8s.List(ctx, pods, client.InNamespace(key.Namespace), runnerSelector(key))).To(Succeed())
		g.Expect(pods.Items).To(HaveLen(1), "one runner pod")
		*pod = pods.Items[0]
		g.Expect(pod.Name).To(Equal(runnerPodName(key)))
		g.Expect(string(pod.UID)).NotTo(Equal(notUID), "a new pod")
		g.Expect(pod.DeletionTimestamp).To(BeNil())
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning))
		g.Expect(pod.Status.Conditions).To(ContainElement(SatisfyAll(
			HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionTrue))))
	}).Should(Succeed())
	return pod
}
