package webhook_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/schema_validation"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// TestEveryWebhookBodyValidatesAgainstTheContract: the bodies a real engine's deliveries
// carry, of every kind a chat produces, validate against the published document's
// webhooks.chatEvent, decode strictly into api.WebhookPayload, and carry the headers the
// document names, so the document cannot drift from the wire.
func TestEveryWebhookBodyValidatesAgainstTheContract(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	doc, err := libopenapi.NewDocument(api.OpenAPI)
	g.Expect(err).NotTo(HaveOccurred())
	model, err := doc.BuildV3Model()
	g.Expect(err).NotTo(HaveOccurred())
	hook, ok := model.Model.Webhooks.Get("chatEvent")
	g.Expect(ok).To(BeTrue(), "the document has webhooks.chatEvent")
	media, ok := hook.Post.RequestBody.Content.Get("application/json")
	g.Expect(ok).To(BeTrue())
	schema := media.Schema.Schema()
	var headers []string
	for _, p := range hook.Post.Parameters {
		headers = append(headers, p.Name)
	}
	g.Expect(headers).To(ConsistOf(api.WebhookIDHeader, api.WebhookTimestampHeader, api.WebhookSignatureHeader))
	sv := schema_validation.NewSchemaValidator(config.WithFormatAssertions())

	env := chattest.Start(t, chattest.Settings(), gmssim.Options{}, chat.Options{IDPrefix: "r0"})
	rcv := newReceiver(t, nil)
	run(t, env.Manager.Webhooks(), rcv.srv.URL, &counter{}, nil, newSecret(t))
	v, _, err := env.Manager.Escalate(t.Context(), chat.Escalation{ConversationID: "conv-contract", Domain: "acme", User: chat.User{FirstName: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string { v, _ = env.Manager.Get(v.ID); return v.GenesysChatID }).ShouldNot(BeEmpty())
	gid := v.GenesysChatID
	g.Expect(env.Sim.AgentJoin(gid, gmssim.Agent{Nickname: "Alice"})).To(Succeed())
	g.Expect(env.Sim.AgentTyping(gid, true)).To(Succeed())
	g.Expect(env.Sim.AgentMessage(gid, "Hello <Jane> & co")).To(Succeed())
	g.Expect(env.Sim.AgentTyping(gid, false)).To(Succeed())
	g.Expect(env.Sim.AgentPushURL(gid, "https://acme.example/help")).To(Succeed())
	_, err = env.Sim.AgentFile(gid, "invoice.pdf", "application/pdf", []byte("%PDF-1.7"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(env.Sim.Notice(gid, "Alice is looking it up")).To(Succeed())
	g.Expect(env.Sim.AgentLeave(gid)).To(Succeed())
	g.Expect(env.Sim.Close(gid)).To(Succeed())
	g.Eventually(func() bool {
		return slices.ContainsFunc(rcv.deliveries(), func(d delivery) bool { return d.p.Event.Kind == chat.KindEnded })
	}).Should(BeTrue())

	first := rcv.deliveries()[0].body
	foreign := bytes.Replace(first, []byte(`"chatId"`), []byte(`"extra":1,"chatId"`), 1)
	ok, _ = sv.ValidateSchemaBytes(schema, foreign)
	g.Expect(ok).To(BeFalse(), "the schema is strict: a field it does not name fails")

	kinds := map[string]bool{}
	for _, d := range rcv.deliveries() {
		ok, errs := sv.ValidateSchemaBytes(schema, d.body)
		g.Expect(ok).To(BeTrue(), "body %s: %v", d.body, errs)
		var p api.WebhookPayload
		dec := json.NewDecoder(bytes.NewReader(d.body))
		dec.DisallowUnknownFields()
		g.Expect(dec.Decode(&p)).To(Succeed(), "the Go contract type decodes every field")
		g.Expect(p.Type).To(Equal(api.WebhookPayloadType))
		for _, h := range headers {
			g.Expect(d.header.Get(h)).NotTo(BeEmpty(), "header %s", h)
		}
		kinds[string(p.Event.Kind)] = true
	}
	g.Expect(kinds).To(HaveKey(chat.KindFileUploaded))
	g.Expect(len(kinds)).To(BeNumerically(">=", 8), "the kinds of a whole chat were checked: %v", kinds)
}
