package controllers_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/report"
)

var _ = Describe("Runner status entries", func() {
	var (
		namespace string
		key       client.ObjectKey
		runner    client.Client // the runners' identity: their ServiceAccount
	)
	BeforeEach(func() {
		namespace = newNamespace()
		gw := minimalGateway(namespace, "acme")
		gw.Spec.Deploy = true
		gw.Spec.Runner.Replicas = new(int32(2))
		key = create(gw)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		runner = runnerClient(key)
	})

	It("sums the runners' entries, each under its own field manager, without clobbering", func() {
		writeEntry(runner, key, chatv1alpha1.RunnerStatus{Pod: "acme-runner-0", ChatCounters: chatv1alpha1.ChatCounters{
			Agents: 2, Capacity: 4, ActiveChats: 3, WaitingChats: 1, ConnectedChats: 2, EndedChatsTotal: 5, FailedChatsTotal: 1,
		}})
		writeEntry(runner, key, chatv1alpha1.RunnerStatus{Pod: "acme-runner-1", ChatCounters: chatv1alpha1.ChatCounters{
			Agents: 1, Capacity: 2, ActiveChats: 1, ConnectedChats: 1, EndedChatsTotal: 7,
		}})
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(gw.Status.ChatCounters).To(Equal(chatv1alpha1.ChatCounters{
				Agents: 3, Capacity: 6, ActiveChats: 4, WaitingChats: 1, ConnectedChats: 3, EndedChatsTotal: 12, FailedChatsTotal: 1,
			}))
		}).Should(Succeed())

		gw := getGateway(Default, key)
		Expect(podsOf(gw)).To(ConsistOf("acme-runner-0", "acme-runner-1"))
		Expect(meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.ReadyCondition)).NotTo(BeNil(), "the operator's fields stay")
		var managers []string
		for _, f := range gw.ManagedFields {
			if f.Subresource == "status" && f.Operation == metav1.ManagedFieldsOperationApply {
				managers = append(managers, f.Manager)
			}
		}
		Expect(managers).To(ContainElements("chat-runner/acme-runner-0", "chat-runner/acme-runner-1", "genesys-gateway-operator"))

		writeEntry(runner, key, chatv1alpha1.RunnerStatus{Pod: "acme-runner-0", ChatCounters: chatv1alpha1.ChatCounters{Agents: 2, Capacity: 4}})
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(gw.Status.ChatCounters).To(Equal(chatv1alpha1.ChatCounters{
				Agents: 3, Capacity: 6, ActiveChats: 1, ConnectedChats: 1, EndedChatsTotal: 7,
			}), "counters runner 0 no longer sets are gone, runner 1's stay")
		}).Should(Succeed())
	})

	It("removes the entries of pods that are not among the desired runners", func() {
		for _, pod := range []string{"acme-runner-0", "acme-runner-1", "acme-runner-2"} {
			writeEntry(runner, key, chatv1alpha1.RunnerStatus{Pod: pod, ChatCounters: chatv1alpha1.ChatCounters{ActiveChats: 1}})
		}
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(podsOf(gw)).To(ConsistOf("acme-runner-0", "acme-runner-1"))
			g.Expect(gw.Status.ActiveChats).To(Equal(int32(2)))
		}).Should(Succeed())

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = new(int32(1)) })
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(podsOf(gw)).To(ConsistOf("acme-runner-0"))
			g.Expect(gw.Status.ActiveChats).To(Equal(int32(1)))
		}).Should(Succeed())

		updateGateway(key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Deploy = false })
		Eventually(func(g Gomega) {
			gw := getGateway(g, key)
			g.Expect(gw.Status.Runners).To(BeEmpty())
			g.Expect(gw.Status.ActiveChats).To(BeZero())
			g.Expect(meta.FindStatusCondition(gw.Status.Conditions, chatv1alpha1.GenesysReachableCondition)).To(BeNil())
		}).Should(Succeed())
	})

	It("reports GenesysReachable from the runners' errors, with events, and Ready False only after 3 unanswered calls", func() {
		rollOut(client.ObjectKey{Namespace: namespace, Name: "acme-runner"}, 2)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)
		expectGenesysReachable(key, metav1.ConditionUnknown, chatv1alpha1.NoChatsReason)

		polled := &metav1.Time{Time: time.Now()}
		writeEntry(runner, key, chatv1alpha1.RunnerStatus{Pod: "acme-runner-0", LastPollTime: polled, LastGenesysAnswerTime: polled})
		expectGenesysReachable(key, metav1.ConditionTrue, chatv1alpha1.PollSucceededReason)

		By("a runner that has not had Genesys' answer yet: Ready waits")
		entry := &liveEntry{status: chatv1alpha1.RunnerStatus{LastPollTime: polled}}
		stop := runWriter(runner, key, "acme-runner-1", entry, nil)
		DeferCleanup(stop)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProbingGenesysReason)
		entry.set(func(s *chatv1alpha1.RunnerStatus) { s.LastGenesysAnswerTime = polled })
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)

		By("one unanswered call: GenesysReachable False, Ready still True (no flapping)")
		entry.set(func(s *chatv1alpha1.RunnerStatus) {
			s.LastError = "refresh: dial tcp 10.0.0.7:8443: connection refused"
			s.GenesysFailures = 1
		})
		c := expectGenesysReachable(key, metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason)
		Expect(c.Message).To(Equal("Runners report Chat API errors: acme-runner-1: refresh: dial tcp 10.0.0.7:8443: connection refused"))
		Expect(readyOf(Default, key).Status).To(Equal(metav1.ConditionTrue), "one lost call does not flap GitOps health")

		By("three in a row: Ready False, GenesysUnreachable; the first answer: Ready True")
		entry.set(func(s *chatv1alpha1.RunnerStatus) { s.GenesysFailures = 3 })
		ready := expectReady(key, metav1.ConditionFalse, chatv1alpha1.GenesysUnreachableReason)
		Expect(ready.Message).To(ContainSubstring("acme-runner-1: refresh: dial tcp 10.0.0.7:8443: connection refused"))
		Eventually(func(g Gomega) {
			g.Expect(eventsOf(g, key)).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.EventTypeWarning),
				HaveField("Reason", chatv1alpha1.GenesysUnreachableReason),
				HaveField("Note", c.Message))))
		}).Should(Succeed())

		entry.set(func(s *chatv1alpha1.RunnerStatus) { s.LastError, s.GenesysFailures = "", 0 })
		expectGenesysReachable(key, metav1.ConditionTrue, chatv1alpha1.PollSucceededReason)
		expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)
		Eventually(func(g Gomega) {
			g.Expect(eventsOf(g, key)).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.EventTypeNormal),
				HaveField("Reason", "GenesysRecovered"))))
		}).Should(Succeed())
		Expect(readyOf(Default, key).Status).To(Equal(metav1.ConditionTrue))

		By("a runner that cannot authenticate")
		entry.set(func(s *chatv1alpha1.RunnerStatus) {
			s.LastError = "gms refresh: HTTP 401"
			s.AuthError = "gms refresh: HTTP 401"
			s.GenesysFailures = 3
		})
		expectReady(key, metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason)
		c = expectGenesysReachable(key, metav1.ConditionFalse, chatv1alpha1.AuthenticationFailedReason)
		Expect(c.Message).To(Equal("Runners cannot authenticate to Genesys: acme-runner-1: gms refresh: HTTP 401"))
		Eventually(func(g Gomega) {
			g.Expect(eventsOf(g, key)).To(ContainElement(SatisfyAll(
				HaveField("Type", corev1.EventTypeWarning),
				HaveField("Reason", chatv1alpha1.AuthenticationFailedReason))))
		}).Should(Succeed())
	})

	It("writes a runner's entry at most once per interval, the last state of a burst, never an unchanged one", func() {
		clk := testingclock.NewFakeClock(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
		entry := &liveEntry{}
		w, stop := startWriter(runner, key, "acme-runner-0", entry, clk)
		DeferCleanup(stop)
		Eventually(w.Writes).Should(Equal(1), "the entry is written at once")
		Expect(entryOf(Default, key, "acme-runner-0").UpdateTime.Time).To(BeTemporally("==", clk.Now()))

		for active := range int32(5) {
			entry.set(func(s *chatv1alpha1.RunnerStatus) { s.ActiveChats = active + 1 })
		}
		Eventually(clk.HasWaiters).Should(BeTrue(), "the burst waits for the interval's end")
		Expect(w.Writes()).To(Equal(1))
		Expect(entryOf(Default, key, "acme-runner-0").ActiveChats).To(BeZero())

		clk.Step(time.Second)
		Eventually(w.Writes).Should(Equal(2))
		Expect(entryOf(Default, key, "acme-runner-0").ActiveChats).To(Equal(int32(5)), "the burst's last state")

		reads := entry.readCount()
		entry.set(func(*chatv1alpha1.RunnerStatus) {}) // a change signalled, nothing changed
		Eventually(clk.HasWaiters).Should(BeTrue())
		clk.Step(time.Second)
		Eventually(entry.readCount).Should(Equal(reads + 1))
		Expect(w.Writes()).To(Equal(2), "an unchanged entry is not written")

		entry.set(func(s *chatv1alpha1.RunnerStatus) { s.ActiveChats = 6 })
		Eventually(w.Writes).Should(Equal(3), "the interval has passed: written at once")
		Expect(entryOf(Default, key, "acme-runner-0").ActiveChats).To(Equal(int32(6)))
	})

	It("records chat events on the gateway as the runner", func() {
		rec, stop, err := report.NewRecorder(runnerConfig(key), "acme-runner-1")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(stop)
		events := report.NewEvents(rec, getGateway(Default, key))
		events.Transitioned(chat.Transition{ChatID: "c-1", ConversationID: "abc", To: chatv1alpha1.ChatConnected, Agent: "Alice"})
		events.Transitioned(chat.Transition{ChatID: "c-2", ConversationID: "def", To: chatv1alpha1.ChatConnected, Agent: "Bob"})
		events.Transitioned(chat.Transition{ChatID: "c-3", To: chatv1alpha1.ChatFailed, Reason: chatv1alpha1.EndGenesysError, Error: "requestChat: status 2"})

		Eventually(func(g Gomega) {
			var ours []string
			for _, e := range eventsOf(g, key) {
				if e.ReportingController == report.ReportingController {
					g.Expect(e.ReportingInstance).To(Equal("acme-runner-1"))
					ours = append(ours, e.Type+" "+e.Reason+" "+e.Note)
				}
			}
			g.Expect(ours).To(ConsistOf(
				"Normal AgentJoined Chat c-1 (conversation abc): agent Alice joined",
				"Normal AgentJoined Chat c-2 (conversation def): agent Bob joined",
				"Warning ChatFailed Chat c-3: failed (GenesysError): requestChat: status 2",
			))
		}).Should(Succeed())
	})
})

// runnerConfig is the API access of a gateway's runners: their ServiceAccount's, bound
// to the Role the operator applied.
func runnerConfig(gateway client.ObjectKey) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + gateway.Namespace + ":" + gateway.Name + "-runner",
	}
	return c
}

// runnerClient is a client with the runners' access, once the operator has granted it.
func runnerClient(gateway client.ObjectKey) client.Client {
	GinkgoHelper()
	c, err := client.New(runnerConfig(gateway), client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() error {
		return c.Get(ctx, gateway, &chatv1alpha1.GenesysGateway{})
	}).WithTimeout(10 * time.Second).Should(Succeed())
	return c
}

// liveEntry is a runner's entry that changes, as a chat engine's would.
type liveEntry struct {
	mu      sync.Mutex
	status  chatv1alpha1.RunnerStatus
	reads   int
	changed chan struct{}
}

func (e *liveEntry) source() chatv1alpha1.RunnerStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reads++
	return e.status
}

// set changes the entry and signals the change, without blocking.
func (e *liveEntry) set(change func(*chatv1alpha1.RunnerStatus)) {
	e.mu.Lock()
	change(&e.status)
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

func (e *liveEntry) readCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reads
}

// startWriter runs a pod's StatusWriter on an entry until the returned func is called;
// a nil clock is the real one, with a short interval.
func startWriter(c client.Client, gateway client.ObjectKey, pod string, entry *liveEntry, clk *testingclock.FakeClock) (*report.StatusWriter, func()) {
	entry.changed = make(chan struct{}, 1)
	opts := report.StatusOptions{Client: c, Gateway: gateway, Pod: pod, Log: GinkgoLogr, MinInterval: time.Millisecond}
	if clk != nil {
		opts.Clock, opts.MinInterval = clk, time.Second
	}
	w := report.NewStatusWriter(opts)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		w.Run(runCtx, entry.source, entry.changed)
	}()
	return w, func() {
		cancel()
		<-done
	}
}

// runWriter is startWriter without the writer.
func runWriter(c client.Client, gateway client.ObjectKey, pod string, entry *liveEntry, clk *testingclock.FakeClock) func() {
	_, stop := startWriter(c, gateway, pod, entry, clk)
	return stop
}

// writeEntry writes a runner's entry once, as that runner.
func writeEntry(c client.Client, gateway client.ObjectKey, status chatv1alpha1.RunnerStatus) {
	GinkgoHelper()
	w, stop := startWriter(c, gateway, status.Pod, &liveEntry{status: status}, nil)
	defer stop()
	Eventually(w.Writes).WithTimeout(10 * time.Second).Should(Equal(1))
}

// podsOf lists the pods of a gateway's runner entries.
func podsOf(gw *chatv1alpha1.GenesysGateway) []string {
	var pods []string
	for _, r := range gw.Status.Runners {
		pods = append(pods, r.Pod)
	}
	return pods
}

// entryOf returns a pod's runner entry.
func entryOf(g Gomega, key client.ObjectKey, pod string) chatv1alpha1.RunnerStatus {
	for _, r := range getGateway(g, key).Status.Runners {
		if r.Pod == pod {
			return r
		}
	}
	g.Expect(pod).To(BeEmpty(), "no entry of the pod")
	return chatv1alpha1.RunnerStatus{}
}

// expectGenesysReachable waits for GenesysReachable to have a status and reason.
func expectGenesysReachable(key client.ObjectKey, status metav1.ConditionStatus, reason string) *metav1.Condition {
	GinkgoHelper()
	var c *metav1.Condition
	Eventually(func(g Gomega) {
		c = meta.FindStatusCondition(getGateway(g, key).Status.Conditions, chatv1alpha1.GenesysReachableCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status))
		g.Expect(c.Reason).To(Equal(reason))
	}).Should(Succeed())
	return c
}
