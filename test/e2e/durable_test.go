//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	ggw "github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// durableChats is how many live chats the durability spec carries through its
// disruptions, spread evenly over two runners.
const durableChats = 50

// agentMessagePrefix starts the text of the agent's numbered messages.
const agentMessagePrefix = "agent message "

// Chats survive their runner: 50 live chats on two runners, an agent writing numbered
// messages to every chat all along and a bot reading every chat's events, through a
// rolling update of the runners, a scale-down from two runners to one and a kill -9 of a
// runner. After each: no chat lost, every chat's agent messages read by the bot exactly
// as sent (no gap, no repeat, in seq order, seq contiguous), a user message per chat
// reaching the agent, and the time each chat went without a request to Genesys printed.
//
// The local cluster has no DNS, and runners reach each other by pod DNS name
// (<gateway>-runner-<k>.<gateway>-runners.<ns>.svc): to forward a call to the holder of a
// chat's store, and to ask their peers whether they carry a conversation before opening
// a chat. The spec stands in for the cluster DNS: one ClusterIP Service per runner pod
// (publishing not-ready addresses, as the headless Service does) and hostAliases in the
// runner pod template naming each pod's DNS name with that Service's ClusterIP, added
// with a field manager of its own, which the operator's server-side apply leaves alone.
// The bot then uses the escalation Service as any bot does.
//
// The Lease timings are the runner's defaults (15 s duration, 10 s renew deadline, 2 s
// retry period): the gateway does not expose them. The simulator ends a chat unpolled
// for simIdleTimeout (45 s, Genesys' default), above a crashed runner's adoption time
// (about 17 s: the Lease duration and a retry period).
var _ = Describe("Chats survive their runner", Ordered, Serial, func() {
	var (
		t      *tenant
		gw     *chatv1alpha1.GenesysGateway
		b      *bot
		chats  []*liveChat
		agent  *numberedAgent
		cancel context.CancelFunc
	)

	BeforeAll(func() {
		t = newTenantWith(simIdleTimeout, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = ptr.To[int32](2) })
		emulatePodDNS(t.gw, 2)
		expectAvailableN(t.gw, 2)
		gw = gateway(Default, t.gw)
		expectOwnStores(gw, 2)
		b = botFor(t.gw)

		By(fmt.Sprintf("%d chats through the escalation Service, half on each runner, each joined by an agent", durableChats))
		convs := conversationsPerStore(durableChats, 2)
		chats = make([]*liveChat, len(convs))
		for i, conv := range convs {
			c := &liveChat{conv: conv.id, store: conv.store}
			Eventually(func(g Gomega) {
				ch, _, err := b.api.Escalate(ctx, escalation.Request{
					ConversationID: conv.id, Domain: t.domain,
					User:    escalation.User{FirstName: "Jane", LastName: "Doe", Email: "jane@example.com"},
					Subject: "Billing",
				})
				g.Expect(err).NotTo(HaveOccurred(), "POST /v1/chats")
				c.id = ch.ID
			}).Should(Succeed())
			Expect(c.id).To(HavePrefix(fmt.Sprintf("r%d-", conv.store)), "the router sends conversation %s to runner %d", conv.id, conv.store)
			chats[i] = c
		}
		for _, c := range chats {
			c.genesysID = b.waitChat(c.id, escalation.ChatWaitingForAgent).GenesysChatID
			Expect(t.sim.ctl.Join(ctx, c.genesysID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		}
		for _, c := range chats {
			b.waitChat(c.id, escalation.ChatConnected)
		}

		By("the bot reading every chat's events with long polls; the agent writing numbered messages to every chat")
		var bg context.Context
		bg, cancel = context.WithCancel(ctx)
		DeferCleanup(func() { cancel() })
		for _, c := range chats {
			go c.read(bg, b)
		}
		agent = &numberedAgent{ctl: t.sim.ctl, chats: chats}
		go agent.run(bg)
		checkpoint(t, b, chats, agent, "start", time.Now())
	})

	It("loses nothing through a rolling update of the runner pods", func() {
		start := resetRequests(t)
		old := runnerPods(Default, t.gw)
		Expect(old).To(HaveLen(2))

		By("changing the runner's cpu request: the StatefulSet rolls both pods, one at a time")
		patchGateway(t.gw, func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("110m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			}
		})
		Eventually(func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: t.gw.Name + "-runner"}, sts)).To(Succeed())
			g.Expect(sts.Status.ObservedGeneration).To(Equal(sts.Generation))
			g.Expect(sts.Status.UpdatedReplicas).To(Equal(int32(2)))
			g.Expect(sts.Status.ReadyReplicas).To(Equal(int32(2)))
			g.Expect(sts.Status.CurrentRevision).To(Equal(sts.Status.UpdateRevision))
			pods := runnerPods(g, t.gw)
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(slices.ContainsFunc(old, func(o corev1.Pod) bool { return o.UID == p.UID })).To(BeFalse(), "pod %s replaced", p.Name)
				g.Expect(p.Spec.Containers[0].Resources.Requests.Cpu().String()).To(Equal("110m"))
				g.Expect(p.Spec.HostAliases).To(HaveLen(2), "the operator kept the suite's hostAliases")
			}
		}).Should(Succeed())
		expectAvailableN(t.gw, 2)
		say("rolling update done %s after the patch\n", time.Since(start).Round(time.Millisecond))
		expectOwnStores(gw, 2)

		checkpoint(t, b, chats, agent, "rolling update", start)
	})

	It("loses nothing when the gateway scales from two runners to one", func() {
		start := resetRequests(t)
		By("patching spec.runner.replicas to 1: runner 1 stops, runner 0 adopts its store")
		patchGateway(t.gw, func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Replicas = ptr.To[int32](1) })
		Eventually(func(g Gomega) {
			g.Expect(runnerPods(g, t.gw)).To(HaveLen(1))
			g.Expect(leaseHolder(g, gw, 1)).To(Equal(gw.Name + "-runner-0"))
		}).Should(Succeed())
		expectAvailable(t.gw)
		say("scaled down and store 1 adopted %s after the patch\n", time.Since(start).Round(time.Millisecond))

		checkpoint(t, b, chats, agent, "scale 2 -> 1", start)
	})

	It("loses nothing when the runner carrying every chat is killed (kill -9)", func() {
		start := resetRequests(t)
		pod := expectRunnerPodReady(t.gw, "")
		restarts := int32(0)
		if len(pod.Status.ContainerStatuses) > 0 {
			restarts = pod.Status.ContainerStatuses[0].RestartCount
		}

		By("killing runner 0 without a graceful stop: no final records, no Lease release")
		if pid, ok := killRunnerProcess(t.ns, t.gw.Name, pod.Name); ok {
			say("sent SIGKILL to the runner process (pid %d on this host); the kubelet restarts its container\n", pid)
			Eventually(func(g Gomega) {
				p := &corev1.Pod{}
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), p)).To(Succeed())
				g.Expect(p.Status.ContainerStatuses).NotTo(BeEmpty())
				g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeNumerically(">", restarts))
			}).Should(Succeed())
			expectRunnerPodReady(t.gw, "")
		} else {
			say("the runner process is not on this host: deleting pod %s with gracePeriodSeconds 0 instead\n", pod.Name)
			Expect(k8s.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
			expectRunnerPodReady(t.gw, string(pod.UID))
		}
		expectAvailable(t.gw)
		say("runner Ready again %s after the kill\n", time.Since(start).Round(time.Millisecond))

		checkpoint(t, b, chats, agent, "kill -9", start)
		cancel()
	})
})

// say prints a figure of the spec both to its report and to the run's output, so that a
// passing run shows it too.
func say(format string, args ...any) {
	fmt.Fprintf(io.MultiWriter(GinkgoWriter, os.Stdout), format, args...)
}

// liveChat is a chat of the durability spec and what the bot read of it.
type liveChat struct {
	conv, id, genesysID string
	store               int // the store of its id's prefix

	mu       sync.Mutex
	next     int64 // the last seq read
	messages []int // the numbers of the agent's messages read, in seq order
	problems []string
	errors   int
}

// read long-polls the chat's events through the escalation Service until ctx ends.
func (c *liveChat) read(ctx context.Context, b *bot) {
	defer GinkgoRecover()
	for ctx.Err() == nil {
		c.mu.Lock()
		after := c.next
		c.mu.Unlock()
		page, err := b.api.Events(ctx, c.id, after, 5*time.Second)
		if err == nil {
			c.take(after, page)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.errors++
		c.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
}

// take records a page of events read after seq after.
func (c *liveChat) take(after int64, page escalation.EventPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if after != c.next {
		c.problems = append(c.problems, fmt.Sprintf("read after %d while at %d", after, c.next))
	}
	for _, e := range page.Events {
		if e.Seq != c.next+1 {
			c.problems = append(c.problems, fmt.Sprintf("seq %d (%s %q) after seq %d", e.Seq, e.Kind, e.Text, c.next))
		}
		c.next = max(c.next, e.Seq)
		if e.Kind.Terminal() {
			c.problems = append(c.problems, fmt.Sprintf("the chat ended: seq %d %s %s %s", e.Seq, e.Kind, e.Reason, e.Error))
		}
		if e.Kind == escalation.EventMessage && strings.HasPrefix(e.Text, agentMessagePrefix) {
			n, err := strconv.Atoi(strings.TrimPrefix(e.Text, agentMessagePrefix))
			if err != nil {
				c.problems = append(c.problems, fmt.Sprintf("seq %d: unexpected text %q", e.Seq, e.Text))
				continue
			}
			c.messages = append(c.messages, n)
		}
	}
}

// numberedAgent writes "agent message <n>" to every chat in turn, n counting from 1 per
// chat, through the simulator's control API.
type numberedAgent struct {
	ctl   *gmssim.ControlClient
	chats []*liveChat

	mu     sync.Mutex
	sent   []int // per chat, the last number sent
	errors []string
}

// run writes until ctx ends: one message to each chat about every 1.5 s.
func (a *numberedAgent) run(ctx context.Context) {
	defer GinkgoRecover()
	a.mu.Lock()
	a.sent = make([]int, len(a.chats))
	a.mu.Unlock()
	for ctx.Err() == nil {
		for i, c := range a.chats {
			if ctx.Err() != nil {
				return
			}
			a.mu.Lock()
			n := a.sent[i] + 1
			a.mu.Unlock()
			err := a.ctl.Message(ctx, c.genesysID, agentMessagePrefix+strconv.Itoa(n))
			a.mu.Lock()
			if err == nil {
				a.sent[i] = n
			} else if ctx.Err() == nil {
				a.errors = append(a.errors, fmt.Sprintf("%s message %d: %v", c.id, n, err))
			}
			a.mu.Unlock()
			time.Sleep(30 * time.Millisecond)
		}
	}
}

// snapshot returns how many messages each chat was sent so far, and the send errors.
func (a *numberedAgent) snapshot() ([]int, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sent), slices.Clone(a.errors)
}

// checkpoint checks, after a disruption, that no chat, agent message or user message was
// lost, and prints how long each chat went without a request to Genesys since start.
func checkpoint(t *tenant, b *bot, chats []*liveChat, agent *numberedAgent, scenario string, start time.Time) {
	GinkgoHelper()
	By(scenario + ": the bot has read every agent message sent so far, in order, once")
	var sent []int
	Eventually(func(g Gomega) {
		sent, _ = agent.snapshot()
		g.Expect(sent).To(HaveLen(len(chats)), "the agent has started")
	}).Should(Succeed())
	Eventually(func(g Gomega) {
		var behind []string
		for i, c := range chats {
			c.mu.Lock()
			if len(c.messages) < sent[i] {
				behind = append(behind, fmt.Sprintf("%s: %d of %d (read errors %d)", c.id, len(c.messages), sent[i], c.errors))
			}
			c.mu.Unlock()
		}
		g.Expect(behind).To(BeEmpty(), "chats whose agent messages the bot has not all read yet")
	}).WithTimeout(2 * time.Minute).Should(Succeed())
	_, sendErrors := agent.snapshot()
	Expect(sendErrors).To(BeEmpty(), "the agent's messages were all accepted by the simulator")
	readErrors := 0
	for _, c := range chats {
		c.mu.Lock()
		Expect(c.problems).To(BeEmpty(), "chat %s: seq and messages as read by the bot", c.id)
		for j, n := range c.messages {
			Expect(n).To(Equal(j+1), "chat %s: the agent's messages by seq are 1, 2, 3, ...: %v", c.id, c.messages)
		}
		readErrors += c.errors
		c.mu.Unlock()
	}

	By(scenario + ": every chat is live: GET /v1/chats/{id} answers 200 Connected, Genesys has it open")
	for _, c := range chats {
		Eventually(func(g Gomega) {
			status, ch := b.chat(g, c.id)
			g.Expect(status).To(Equal(http.StatusOK), "GET /v1/chats/%s", c.id)
			g.Expect(ch.State).To(Equal(escalation.ChatConnected))
		}).Should(Succeed())
	}

	By(scenario + ": a user message per chat reaches the agent")
	text := func(c *liveChat) string { return fmt.Sprintf("user message after %s to %s", scenario, c.id) }
	for _, c := range chats {
		Eventually(func() error {
			return b.api.SendMessage(ctx, c.id, escalation.MessageRequest{Text: text(c)})
		}).Should(Succeed(), "POST /v1/chats/%s/messages", c.id)
	}
	for _, c := range chats {
		sc := t.sim.chat(Default, c.genesysID)
		Expect(sc.Ended).To(BeFalse(), "chat %s", c.id)
		Expect(sc.Transcript).To(ContainElement(SatisfyAll(
			HaveField("Type", gms.EventMessage), HaveField("Text", text(c)), HaveField("From.Type", gms.ParticipantClient))), "chat %s", c.id)
	}

	By(scenario + ": the status entries of the runners that run count every chat Connected, and list the newest (20 each) as Connected")
	ours := map[string]bool{}
	for _, c := range chats {
		ours[c.id] = true
	}
	Eventually(func(g Gomega) {
		live := map[string]bool{}
		for _, p := range runnerPods(g, t.gw) {
			live[p.Name] = true
		}
		connected, listed := int32(0), 0
		for _, e := range gateway(g, t.gw).Status.Runners {
			if !live[e.Pod] {
				continue
			}
			connected += e.ConnectedChats
			for _, c := range e.Chats {
				if ours[c.ID] {
					listed++
					g.Expect(c.State).To(Equal(chatv1alpha1.ChatConnected), "chat %s in the entry of %s", c.ID, e.Pod)
				}
			}
		}
		g.Expect(connected).To(Equal(int32(len(chats))), "connected chats of the entries of %v", live)
		g.Expect(listed).To(Equal(min(len(chats), 20*len(live))), "chats listed in the entries of %v", live)
	}).Should(Succeed())

	reqs, err := t.sim.ctl.Requests(ctx)
	Expect(err).NotTo(HaveOccurred())
	end := time.Now()
	gaps, worst := unpolledTimes(chats, reqs, start, end)
	say("\n%-15s unpolled time per chat (longest gap between two Chat API requests of the chat at the simulator, %s window, %d chats): p50 %s  p99 %s  max %s; bot read retries %d\n\n",
		scenario, end.Sub(start).Round(time.Second), len(chats), percentile(gaps, 50), percentile(gaps, 99), percentile(gaps, 100), readErrors)
	var byStore [2][]time.Duration
	for i, c := range chats {
		byStore[c.store%2] = append(byStore[c.store%2], gaps[i])
	}
	say("%-15s   chats of store 0: p50 %s max %s; of store 1: p50 %s max %s; longest: %s\n",
		"", percentile(byStore[0], 50), percentile(byStore[0], 100), percentile(byStore[1], 50), percentile(byStore[1], 100), worst)
	AddReportEntry("unpolled "+scenario, fmt.Sprintf("p50 %s p99 %s max %s", percentile(gaps, 50), percentile(gaps, 99), percentile(gaps, 100)))
	custodyLog(t.gw, start)
	Expect(percentile(gaps, 100)).To(BeNumerically("<", simIdleTimeout), "no chat went unpolled for Genesys' idle timeout")
}

// custodyLog writes the runners' log lines about taking, giving up and losing chat
// stores since start (of their current and previous containers) to the spec's report:
// they explain the figures.
func custodyLog(key client.ObjectKey, start time.Time) {
	GinkgoHelper()
	for _, p := range runnerPods(Default, key) {
		for _, prev := range []bool{false, true} {
			args := []string{"-n", key.Namespace, "logs", p.Name, "--timestamps", "--since-time=" + start.UTC().Format(time.RFC3339)}
			if prev {
				args = append(args, "--previous")
			}
			out, _, err := runKubectl(args...)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(out, "\n") {
				for _, m := range []string{`"logger":"chat-runner.custody"`, `"logger":"chat-runner.leases`, `"logger":"chat-runner.store"`, "Stopped chat runner", "Started chat runner", "Resumed chat with fewer"} {
					if strings.Contains(line, m) {
						fmt.Fprintf(GinkgoWriter, "  %s%s: %s\n", p.Name, map[bool]string{true: " (previous)"}[prev], line)
						break
					}
				}
			}
		}
	}
}

// unpolledTimes is, per chat, the longest time within [start, end] without a Chat API
// request of the chat reaching the simulator (its recorded requests' times), and a
// description of the longest of all.
func unpolledTimes(chats []*liveChat, reqs []gmssim.Request, start, end time.Time) ([]time.Duration, string) {
	times := map[string][]time.Time{}
	for _, q := range reqs {
		if q.ChatID != "" && !q.Time.Before(start) {
			times[q.ChatID] = append(times[q.ChatID], q.Time)
		}
	}
	out := make([]time.Duration, 0, len(chats))
	var worst time.Duration
	var desc string
	for _, c := range chats {
		ts := times[c.genesysID]
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		prev, longest := start, time.Duration(0)
		for _, t := range append(ts, end) {
			if d := t.Sub(prev); d > longest {
				longest = d
				if d > worst {
					worst = d
					desc = fmt.Sprintf("chat %s (%d requests in the window) from +%s to +%s", c.id, len(ts), prev.Sub(start).Round(10*time.Millisecond), t.Sub(start).Round(10*time.Millisecond))
				}
			}
			prev = t
		}
		out = append(out, longest)
	}
	return out, desc
}

// percentile is the p-th percentile (nearest rank) of durations, rounded to 10 ms.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))].Round(10 * time.Millisecond)
}

// resetRequests forgets the simulator's recorded requests and returns the time it did.
func resetRequests(t *tenant) time.Time {
	GinkgoHelper()
	Expect(t.sim.ctl.ResetRequests(ctx)).To(Succeed())
	return time.Now()
}

// conversation is a conversation id and the store the router assigns its escalation to.
type conversation struct {
	id    string
	store int
}

// conversationsPerStore picks n conversation ids, n/stores of them hashing to each store
// as the runners' router hashes them (FNV-1a 32 of the id, modulo the replicas).
func conversationsPerStore(n, stores int) []conversation {
	per := make([]int, stores)
	var out []conversation
	for i := 0; len(out) < n; i++ {
		id := fmt.Sprintf("conv-e2e-durable-%d", i)
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		k := int(h.Sum32() % uint32(stores))
		if per[k] < n/stores {
			per[k]++
			out = append(out, conversation{id: id, store: k})
		}
	}
	return out
}

// emulatePodDNS stands in for the cluster DNS the local cluster lacks, for the runners'
// pod DNS names: a ClusterIP Service per runner pod, and the pods' hostAliases naming
// each pod's DNS name with its Service's ClusterIP, patched into the runner
// StatefulSet's pod template by a field manager of the suite's own (the operator's
// server-side apply does not own the field, so it keeps it). It waits for the StatefulSet
// to roll out with them.
func emulatePodDNS(key client.ObjectKey, replicas int) {
	GinkgoHelper()
	By("standing in for the cluster DNS: runner pod DNS names as hostAliases of per-pod Services")
	gw := gateway(Default, key)
	var aliases []corev1.HostAlias
	for k := range replicas {
		pod := fmt.Sprintf("%s-%d", ggw.RunnerName(gw), k)
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: fmt.Sprintf("e2e-dns-%s", pod)},
			Spec: corev1.ServiceSpec{
				Selector:                 map[string]string{appsv1.StatefulSetPodNameLabel: pod},
				PublishNotReadyAddresses: true,
				Ports: []corev1.ServicePort{{
					Name: "http", Port: ggw.HTTPPort, TargetPort: intstr.FromInt32(ggw.HTTPPort), Protocol: corev1.ProtocolTCP,
				}},
			},
		}
		Expect(k8s.Create(ctx, svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
		aliases = append(aliases, corev1.HostAlias{
			IP:        svc.Spec.ClusterIP,
			Hostnames: []string{fmt.Sprintf("%s.%s.%s.svc", pod, ggw.HeadlessServiceName(gw), key.Namespace)},
		})
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"hostAliases": aliases}}}})
	Expect(err).NotTo(HaveOccurred())
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: ggw.RunnerName(gw)}}
	Eventually(func() error {
		return k8s.Patch(ctx, sts, client.RawPatch(types.MergePatchType, patch), client.FieldOwner("e2e-pod-dns"))
	}).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
		g.Expect(sts.Spec.Template.Spec.HostAliases).To(HaveLen(replicas), "the operator keeps the suite's hostAliases")
		g.Expect(sts.Status.ObservedGeneration).To(Equal(sts.Generation))
		g.Expect(sts.Status.UpdatedReplicas).To(Equal(int32(replicas)))
		g.Expect(sts.Status.ReadyReplicas).To(Equal(int32(replicas)))
		g.Expect(sts.Status.CurrentRevision).To(Equal(sts.Status.UpdateRevision))
		for _, p := range runnerPods(g, key) {
			g.Expect(p.Spec.HostAliases).To(HaveLen(replicas), "pod %s", p.Name)
		}
	}).Should(Succeed())
}

// leaseHolder is the holder of a store's Lease ("" none).
func leaseHolder(g Gomega, gw *chatv1alpha1.GenesysGateway, store int) string {
	lease := &coordinationv1.Lease{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: chatstore.LeaseName(gw, store)}, lease)).To(Succeed())
	return ptr.Deref(lease.Spec.HolderIdentity, "")
}

// expectOwnStores waits until each of n runners holds its own store again (hand-backs
// done).
func expectOwnStores(gw *chatv1alpha1.GenesysGateway, n int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		for k := range n {
			g.Expect(leaseHolder(g, gw, k)).To(Equal(fmt.Sprintf("%s-runner-%d", gw.Name, k)))
		}
	}).Should(Succeed())
}

// runnerPods lists a gateway's runner pods that are not being deleted.
func runnerPods(g Gomega, key client.ObjectKey) []corev1.Pod {
	pods := &corev1.PodList{}
	g.Expect(k8s.List(ctx, pods, client.InNamespace(key.Namespace), runnerSelector(key))).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

// patchGateway changes a gateway's spec with a merge patch.
func patchGateway(key client.ObjectKey, change func(*chatv1alpha1.GenesysGateway)) {
	GinkgoHelper()
	gw := gateway(Default, key)
	base := gw.DeepCopy()
	change(gw)
	Expect(k8s.Patch(ctx, gw, client.MergeFrom(base))).To(Succeed())
}

// killRunnerProcess sends SIGKILL to a runner pod's process when it runs on this host
// (the local cluster: the suite runs as root on its only node), found by its arguments
// and POD_NAME. It reports false when there is none here.
func killRunnerProcess(ns, gatewayName, pod string) (int, bool) {
	GinkgoHelper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, false
	}
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !slices.Contains(args, ggw.RunnerSubcommand) || !slices.Contains(args, "--gateway="+ns+"/"+gatewayName) {
			continue
		}
		environ, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !slices.Contains(strings.Split(string(environ), "\x00"), "POD_NAME="+pod) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed(), "kill -9 %d", pid)
		return pid, true
	}
	return 0, false
}
