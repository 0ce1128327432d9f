package controllers_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/report"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// adoptionBound is how soon a peer must carry the chats of a runner that died: its Lease
// expires after the lease duration, the designated adopter claims it on its next try and
// resumes the chats (a few retry periods, with room for a loaded CI machine).
const adoptionBound = fleetLeaseDuration + 5*fleetRetryPeriod

var _ = Describe("Durable chats: runners that crash, stop, scale and get partitioned", func() {
	// chatOnStore1 starts two runners and a chat in store 1 whose agent has joined; the
	// bot reads its events through runner 0.
	chatOnStore1 := func(name string) (f *fleet, r0, r1 *fleetRunner, id, gid string, rd *reader) {
		GinkgoHelper()
		f = newFleet(2)
		r0, r1 = f.startReady(0), f.startReady(1)
		f.rollOut(2)
		c := f.escalate(r0, conversationOn(name, 1, 2))
		Expect(c.ID).To(HavePrefix("r1-"), "the conversation hashes to runner 1, which creates it in its store")
		gid = f.genesysChat(r0, c.ID)
		Expect(f.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		rd = f.readEvents(f.apiOf(0), c.ID)
		return f, r0, r1, c.ID, gid, rd
	}
	// carries waits until runner 0 holds store 1 and answers for the chat itself.
	carries := func(f *fleet, r0 *fleetRunner, id string, within time.Duration) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			g.Expect(f.leaseHolder(g, 1)).To(Equal(r0.pod))
			g.Expect(f.bot(r0).Chat(ctx, id)).To(HaveField("State", escalation.ChatConnected))
		}).WithTimeout(within).WithPolling(50*time.Millisecond).Should(Succeed(), "runner 0 carries the chat")
	}
	// userReaches sends a user message through runner 0 and finds it in the Genesys
	// transcript.
	userReaches := func(f *fleet, r0 *fleetRunner, id, gid, text string) {
		GinkgoHelper()
		Eventually(func() error {
			return f.bot(r0).SendMessage(ctx, id, escalation.MessageRequest{Text: text, ClientMessageID: text})
		}).Should(Succeed())
		sc, ok := f.sim.Chat(gid)
		Expect(ok).To(BeTrue())
		Expect(sc.Transcript).To(ContainElement(HaveField("Text", text)))
	}

	It("adopts the chats of a runner that crashed within the lease time, losing and repeating no agent message", func() {
		f, r0, r1, id, gid, rd := chatOnStore1("crash")
		const n = 60
		sent := agentTalk(f.sim, gid, n)
		Eventually(func() int { return len(agentTexts(rd.all())) }).Should(BeNumerically(">=", 5), "the bot reads through runner 0, forwarded to runner 1")

		By("killing runner 1: no final write, no Lease release")
		killed := time.Now()
		f.kill(r1)
		carries(f, r0, id, adoptionBound)
		GinkgoWriter.Printf("runner 0 carried the chat %v after the kill\n", time.Since(killed))
		Eventually(sent).WithTimeout(chatTimeout).Should(BeClosed())
		expectExactlyOnce(rd, n)
		userReaches(f, r0, id, gid, "user after the crash")

		By("showing the adoption on the gateway")
		Eventually(func(g Gomega) {
			st := f.runnerStatus(g, r0)
			g.Expect(st.OwnedStores).To(ContainElement(int32(1)))
			g.Expect(st.ChatsAdopted).To(BeNumerically(">=", 1))
			g.Expect(eventsOf(g, f.key)).To(ContainElement(SatisfyAll(
				HaveField("Reason", report.ReasonChatsAdopted), HaveField("Note", ContainSubstring(r0.pod)))))
		}).WithTimeout(chatTimeout).Should(Succeed())
	})

	It("resumes the chats of a runner stopped gracefully at once", func() {
		f, r0, r1, id, gid, rd := chatOnStore1("graceful")
		const n = 30
		sent := agentTalk(f.sim, gid, n)
		Eventually(func() int { return len(agentTexts(rd.all())) }).Should(BeNumerically(">=", 5))

		By("stopping runner 1 as the kubelet would")
		stopped := time.Now()
		f.stopGracefully(r1)
		carries(f, r0, id, fleetLeaseDuration-time.Since(stopped))
		took := time.Since(stopped)
		GinkgoWriter.Printf("runner 0 carried the chat %v after the stop began\n", took)
		Expect(took).To(BeNumerically("<", fleetLeaseDuration), "a hand-over, not an expiry")
		Eventually(sent).WithTimeout(chatTimeout).Should(BeClosed())
		expectExactlyOnce(rd, n)
		userReaches(f, r0, id, gid, "user after the stop")
	})

	It("carries every chat on the remaining runner after an HPA's scale-down, then removes the emptied stores", func() {
		f := newFleet(3)
		rs := []*fleetRunner{f.startReady(0), f.startReady(1), f.startReady(2)}
		f.rollOut(3)
		ids, gids := make([]string, 3), make([]string, 3)
		for k := range 3 {
			c := f.escalate(rs[0], conversationOn("scale", k, 3))
			Expect(c.ID).To(HavePrefix("r%d-", k))
			ids[k], gids[k] = c.ID, f.genesysChat(rs[0], c.ID)
		}

		By("scaling down to 1 as an HPA does, through the scale subresource: the StatefulSet stops pods 2 and 1")
		hpaScale(f, 3, 1)
		f.scaledTo(1)
		f.stopGracefully(rs[2])
		f.stopGracefully(rs[1])
		f.rollOut(1)
		Eventually(func(g Gomega) []int32 { return f.runnerStatus(g, rs[0]).OwnedStores }).
			WithTimeout(chatTimeout).Should(Equal([]int32{0, 1, 2}))
		for k := range 3 {
			Expect(f.sim.AgentJoin(gids[k], gmssim.Agent{Nickname: "Alice"})).To(Succeed())
			Expect(f.sim.AgentMessage(gids[k], "still here "+ids[k])).To(Succeed())
		}
		for k := range 3 {
			Eventually(func() []string { return agentTexts(f.botEvents(rs[0], ids[k])) }).
				WithTimeout(chatTimeout).Should(Equal([]string{"still here " + ids[k]}), "chat %d goes on", k)
		}

		By("ending the adopted chats: the operator removes their stores")
		Expect(f.sim.Close(gids[1])).To(Succeed())
		Expect(f.sim.Close(gids[2])).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(f.gateway(g).Status.ChatStores).To(Equal([]int32{0}))
			var leases coordinationv1.LeaseList
			g.Expect(k8sClient.List(ctx, &leases, client.InNamespace(f.key.Namespace), client.MatchingLabels{chatstore.LabelStore: chatstore.StoreValue})).To(Succeed())
			g.Expect(leases.Items).To(ConsistOf(HaveField("ObjectMeta.Name", chatstore.LeaseName(f.gateway(g), 0))))
			var shards corev1.SecretList
			g.Expect(k8sClient.List(ctx, &shards, client.InNamespace(f.key.Namespace), client.MatchingLabels{chatstore.LabelStore: chatstore.StoreValue})).To(Succeed())
			g.Expect(shards.Items).NotTo(BeEmpty())
			for _, s := range shards.Items {
				g.Expect(s.Labels).To(HaveKeyWithValue(chatstore.LabelOrdinal, "0"), "shard %s", s.Name)
			}
		}).WithTimeout(chatTimeout).Should(Succeed())
		Expect(f.bot(rs[0]).Chat(ctx, ids[0])).To(HaveField("State", escalation.ChatConnected), "the chat of runner 0 goes on")
	})

	It("resumes the chat of a single runner restarted after a crash and after a graceful stop", func() {
		f := newFleet(1)
		r := f.startReady(0)
		f.rollOut(1)
		c := f.escalate(r, "single")
		gid := f.genesysChat(r, c.ID)
		Expect(f.sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		rd := f.readEvents(f.apiOf(0), c.ID)
		talk := func(from, to int) {
			for i := from; i <= to; i++ {
				Expect(f.sim.AgentMessage(gid, "agent "+strconv.Itoa(i))).To(Succeed())
			}
		}
		talk(1, 3)
		Eventually(func() []string { return agentTexts(rd.all()) }).WithTimeout(chatTimeout).Should(HaveLen(3))

		By("killing it and starting it again")
		f.kill(r)
		talk(4, 5) // while no runner runs
		r = f.startReady(0)
		Eventually(func() (escalation.Chat, error) { return f.bot(r).Chat(ctx, c.ID) }).
			Should(HaveField("State", escalation.ChatConnected), "the chat id still works")
		talk(6, 7)
		expectExactlyOnce(rd, 7)

		By("stopping it gracefully and starting it again")
		f.stopGracefully(r)
		talk(8, 9)
		r = f.startReady(0)
		talk(10, 10)
		expectExactlyOnce(rd, 10)
		Expect(f.bot(r).Chat(ctx, c.ID)).To(HaveField("State", escalation.ChatConnected))
		Eventually(func(g Gomega) { g.Expect(f.runnerStatus(g, r).ChatsResumed).To(BeNumerically(">=", 1)) }).
			WithTimeout(chatTimeout).Should(Succeed())
	})

	It("stops a partitioned runner polling within the renew deadline and lets a peer adopt its chats", func() {
		f, r0, r1, id, gid, rd := chatOnStore1("partition")
		Eventually(func() (int, error) { return refreshCount(r1) }).Should(BeNumerically(">=", 2), "runner 1 polls the chat")
		const n = 60
		sent := agentTalk(f.sim, gid, n)
		Eventually(func() int { return len(agentTexts(rd.all())) }).Should(BeNumerically(">=", 5))

		By("cutting runner 1 off the API server; it keeps running")
		cut := time.Now()
		f.partition(r1)
		last, lastChange := -1, time.Now()
		Eventually(func(g Gomega) {
			c, err := refreshCount(r1)
			g.Expect(err).NotTo(HaveOccurred())
			if c != last {
				last, lastChange = c, time.Now()
			}
			g.Expect(time.Since(lastChange)).To(BeNumerically(">", 1500*time.Millisecond), "no Refresh for longer than the polling interval")
		}).WithTimeout(fleetRenewDeadline + 5*time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("runner 1 last polled %v after the cut\n", lastChange.Sub(cut))
		Expect(lastChange.Sub(cut)).To(BeNumerically("<", fleetRenewDeadline+fleetRetryPeriod), "runner 1 stopped polling within the renew deadline")
		carries(f, r0, id, adoptionBound)
		Eventually(sent).WithTimeout(chatTimeout).Should(BeClosed())
		expectExactlyOnce(rd, n)
		userReaches(f, r0, id, gid, "user after the partition")
		Expect(refreshCount(r1)).To(Equal(last), "the partitioned runner never polled again")
	})

	It("answers a conversation's existing chat across scaling up and down, with one Genesys chat", func() {
		f := newFleet(2)
		r0, r1 := f.startReady(0), f.startReady(1)
		f.rollOut(2)
		conv := conversationWhere("idem", func(id string) bool { return ownerOf(id, 2) == 1 && ownerOf(id, 3) == 2 }) // it moves
		c := f.escalate(r0, conv)
		Expect(c.ID).To(HavePrefix("r1-"))
		f.genesysChat(r0, c.ID)

		By("scaling up to 3")
		updateGateway(f.key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = ptr.To(int32(3)) })
		f.scaledTo(3) // the StatefulSet creates pod 2 only once the operator scaled it
		r2 := f.startReady(2)
		f.rollOut(3)
		for _, r := range []*fleetRunner{r0, r1, r2} {
			f.escalateAgain(r, conv, c.ID)
		}

		By("scaling down to 1")
		updateGateway(f.key, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = ptr.To(int32(1)) })
		f.stopGracefully(r2)
		f.stopGracefully(r1)
		f.rollOut(1)
		f.escalateAgain(r0, conv, c.ID)
		Expect(f.sim.Chats()).To(HaveLen(1), "one Genesys chat for the conversation")
	})
})

// hpaScale changes the runner count as a HorizontalPodAutoscaler does: it reads the
// gateway's scale subresource (expecting from replicas) and writes to replicas into it,
// retrying on conflicts with the runners' and the operator's status writes.
func hpaScale(f *fleet, from, to int32) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw := f.gateway(Default)
		scale := &autoscalingv1.Scale{}
		if err := k8sClient.SubResource("scale").Get(ctx, gw, scale); err != nil {
			return err
		}
		Expect(scale.Spec.Replicas).To(Equal(from), "the scale the HPA reads")
		scale.Spec.Replicas = to
		return k8sClient.SubResource("scale").Update(ctx, gw, client.WithSubResourceBody(scale))
	})).To(Succeed())
	Expect(f.gateway(Default).Spec.Runner.Replicas).To(HaveValue(Equal(to)), "the scale subresource writes spec.runner.replicas")
}
