package controllers_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// chatTimeout bounds waits on a chat's progress: a runner writes its status at most once a
// second, and the operator sums it in a reconcile of its own.
const chatTimeout = 15 * time.Second

// Passwords of the simulated GMS proxy, before and after rotation; they must never show
// outside their Secret.
const (
	gmsPassword     = "gms-pa55word-do-not-leak"
	rotatedPassword = "rotated-pa55word-do-not-leak"
)

var _ = Describe("A chat end to end: operator, a runner started as its pod, the GMS simulator", func() {
	It("carries a chat from escalation to an agent and back, and shows it in status, events and metrics without leaking a secret", func() {
		ns := newNamespace()
		sim := gmssim.New(gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "gms-user", Password: gmsPassword}})
		srv := httptest.NewServer(sim)
		DeferCleanup(srv.Close)

		Expect(k8sClient.Create(ctx, newSecret(ns, "gms-basic", map[string]string{"username": "gms-user", "password": gmsPassword}))).To(Succeed())
		gw := minimalGateway(ns, "acme")
		gw.Spec.Deploy = true
		gw.Spec.Connection.ServiceURL = srv.URL
		gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
		gw.Spec.APIRetry = chatv1alpha1.APIRetry{MaxAttempts: 3, InitialDelayMilliseconds: 100, Multiplier: ptr.To(resource.MustParse("2"))}
		key := create(gw)

		By("starting runner 0 as the StatefulSet's pod template says")
		runner, bot := runGateway(key)

		By("escalating a conversation")
		created, isNew, err := bot.client().Escalate(ctx, escalation.Request{
			ConversationID: "conv-42", Domain: "acme",
			User:    escalation.User{FirstName: "Jane", LastName: "Doe", Email: "jane@example.com"},
			Subject: "Billing", Attributes: map[string]string{"Plan": "Gold"},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(isNew).To(BeTrue(), "201 Created")
		id := created.ID
		Expect(id).To(HavePrefix("r0-"))
		chatIn := func(g Gomega) chatv1alpha1.ChatStatus {
			st := getGateway(g, key).Status
			g.Expect(st.Runners).To(HaveLen(1))
			g.Expect(st.Runners[0].Pod).To(Equal(runner.pod))
			g.Expect(st.Runners[0].Chats).To(HaveLen(1))
			return st.Runners[0].Chats[0]
		}
		var genesysID string
		Eventually(func(g Gomega) {
			c := chatIn(g)
			g.Expect(c.ID).To(Equal(id))
			g.Expect(c.ConversationID).To(Equal("conv-42"))
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatWaitingForAgent))
			g.Expect(c.GenesysChatID).NotTo(BeEmpty())
			genesysID = c.GenesysChatID
			g.Expect(getGateway(g, key).Status.WaitingChats).To(Equal(int32(1)), "summed by the operator")
		}).WithTimeout(chatTimeout).Should(Succeed())
		requests := chatCalls(sim.Requests())
		Expect(requests[0].Op).To(Equal(gms.OpRequestChat))
		Expect(requests[0].Header.Get("Authorization")).To(HavePrefix("Basic "), "Basic auth from the Secret")
		Expect(requests[0].Form.Get("userData[Plan]")).To(Equal("Gold"))

		By("an agent joining and answering")
		Expect(sim.AgentJoin(genesysID, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
		Expect(sim.AgentMessage(genesysID, "Hello Jane, how can I help?")).To(Succeed())
		Eventually(func(g Gomega) {
			c := chatIn(g)
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatConnected))
			g.Expect(c.Agent).To(Equal("Alice"))
			g.Expect(getGateway(g, key).Status.ConnectedChats).To(Equal(int32(1)))
		}).WithTimeout(chatTimeout).Should(Succeed())
		Eventually(func() []escalation.Event { return bot.events(id, 0) }).WithTimeout(chatTimeout).Should(ContainElement(SatisfyAll(
			HaveField("Kind", escalation.EventMessage), HaveField("Text", "Hello Jane, how can I help?"), HaveField("Agent", "Alice"))))

		By("rotating the GMS password mid-chat: the runner picks it up live, the chat goes on")
		old, rotated := &gmssim.Credentials{Username: "gms-user", Password: gmsPassword}, &gmssim.Credentials{Username: "gms-user", Password: rotatedPassword}
		sim.SetBasicAuth(old, rotated) // the proxy accepts both while the password rotates
		basic := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gms-basic"}, basic)).To(Succeed())
		basic.Data["password"] = []byte(rotatedPassword)
		Expect(k8sClient.Update(ctx, basic)).To(Succeed())
		rotatedAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("gms-user:"+rotatedPassword))
		Eventually(func() string { r := sim.Requests(); return r[len(r)-1].Header.Get("Authorization") }).
			WithTimeout(chatTimeout).Should(Equal(rotatedAuth), "the next calls carry the new password")
		sim.SetBasicAuth(rotated) // the old password is revoked
		Expect(sim.AgentMessage(genesysID, "Still there?")).To(Succeed())
		Eventually(func() []escalation.Event { return bot.events(id, 0) }).WithTimeout(chatTimeout).Should(ContainElement(HaveField("Text", "Still there?")))
		Expect(chatIn(Default).State).To(Equal(chatv1alpha1.ChatConnected))

		By("the user replying")
		Expect(bot.client().SendMessage(ctx, id, escalation.MessageRequest{Text: "My bill is wrong & too high"})).To(Succeed(), "204")
		sc, _ := sim.Chat(genesysID)
		Expect(sc.Transcript).To(ContainElement(SatisfyAll(HaveField("Text", "My bill is wrong & too high"), HaveField("From.Type", gms.ParticipantClient))))

		By("the agent closing the chat")
		Expect(sim.Close(genesysID)).To(Succeed())
		Eventually(func(g Gomega) {
			c := chatIn(g)
			g.Expect(c.State).To(Equal(chatv1alpha1.ChatEnded))
			g.Expect(c.EndReason).To(Equal(chatv1alpha1.EndAgentClosed))
			g.Expect(c.EndTime).NotTo(BeNil())
			st := getGateway(g, key).Status
			g.Expect(st.EndedChatsTotal).To(Equal(int64(1)))
			g.Expect(st.ActiveChats).To(BeZero())
		}).WithTimeout(chatTimeout).Should(Succeed())
		Expect(bot.events(id, 0)).To(ContainElement(HaveField("Kind", escalation.EventEnded)))

		By("events on the gateway for each transition, naming the chat")
		Eventually(func(g Gomega) []string {
			var reasons []string
			for _, e := range eventsOf(g, key) {
				if strings.Contains(e.Note, id) {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}).WithTimeout(chatTimeout).Should(ContainElements("ChatRequested", "AgentJoined", "ChatEnded"))

		By("finding no secret in logs, status, events or metrics")
		var secrets []string
		for _, r := range chatCalls(sim.Requests()) {
			if k := r.Form.Get("secureKey"); k != "" {
				secrets = append(secrets, k)
			}
		}
		Expect(secrets).NotTo(BeEmpty())
		secrets = append(secrets, gmsPassword, rotatedPassword, bot.token)
		gwJSON, err := json.Marshal(getGateway(Default, key))
		Expect(err).NotTo(HaveOccurred())
		var evs eventsv1.EventList
		Expect(k8sClient.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		evJSON, err := json.Marshal(evs)
		Expect(err).NotTo(HaveOccurred())
		metrics := httpBody(runner.metrics + "/metrics")
		Expect(metrics).To(ContainSubstring("genesys_chatrunner_"))
		for name, text := range map[string]string{"runner logs": runner.logs.String(), "status": string(gwJSON), "events": string(evJSON), "metrics": metrics} {
			Expect(text).NotTo(BeEmpty(), name)
			for _, s := range secrets {
				Expect(strings.Contains(text, s)).To(BeFalse(), "a secret appears in the %s", name)
			}
		}
	})
})

// botClient calls the escalation API of a runner as a bot would: with the API's Go client.
type botClient struct {
	base, token string
}

// client is the escalation API's client for the runner and its token.
func (b *botClient) client() *escalation.Client {
	return escalation.NewClient(b.base, b.token, nil)
}

// events reads a chat's events after a seq, waiting 100 ms for one; none when the call is
// refused.
func (b *botClient) events(id string, after int64) []escalation.Event {
	GinkgoHelper()
	page, err := b.client().Events(ctx, id, after, 100*time.Millisecond)
	if _, refused := errors.AsType[*escalation.Problem](err); refused {
		return nil
	}
	Expect(err).NotTo(HaveOccurred())
	return page.Events
}

func httpStatus(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func httpBody(url string) string {
	GinkgoHelper()
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// chatCalls leaves out the runners' probes (a Refresh of a made-up chat, with a made-up
// session, see gms.Client.Probe): the calls of the test's chats.
func chatCalls(requests []gmssim.Request) []gmssim.Request {
	return slices.DeleteFunc(requests, func(r gmssim.Request) bool { return r.ChatID == gms.ProbeChatID })
}
