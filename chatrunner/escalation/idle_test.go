package escalation_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// A quiet user gets Genesys' idle warning through the bot's long poll, in the gateway's
// locale, and then the chat ends IdleTimeout; no closing text is said twice.
func TestLongPollSeesIdleAlertThenIdleTimeout(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Second)
	s := chattest.Settings()
	s.Locale = "fr-FR"
	env := chattest.Start(t, s, gmssim.Options{InactivityAlert: 200 * time.Millisecond, InactivityClose: 200 * time.Millisecond}, chat.Options{IDPrefix: "r0"})
	srv := httptest.NewServer(escalation.NewHandler(escalation.Options{
		Engine: env.Manager,
		Tokens: func() ([]string, error) { return []string{token}, nil },
	}))
	t.Cleanup(srv.Close)
	bot := api.NewClient(srv.URL, token, srv.Client())
	ctx := context.Background()

	c, _, err := bot.Escalate(ctx, api.Request{ConversationID: "conv-idle", Domain: "acme", User: api.User{Name: "Jane"}})
	g.Expect(err).NotTo(HaveOccurred())
	var all []api.Event
	for len(all) == 0 || !all[len(all)-1].Kind.Terminal() {
		page, err := bot.Events(ctx, c.ID, int64(len(all)), 5*time.Second)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(page.Events).NotTo(BeEmpty(), "the long poll answered before its wait without an event")
		all = append(all, page.Events...)
	}
	kinds := make([]api.EventKind, len(all))
	for i, e := range all {
		kinds[i] = e.Kind
	}
	g.Expect(kinds).To(Equal([]api.EventKind{api.EventNotice, api.EventIdleAlert, api.EventIdleClose, api.EventEnded}))
	g.Expect(all[1].Canned).To(Equal("IdleAlert"))
	g.Expect(all[1].Text).To(Equal("Êtes-vous toujours là ? Cette conversation sera bientôt fermée si vous ne répondez pas."))
	g.Expect(all[2].Canned).To(Equal("IdleClose"))
	g.Expect(all[2].Text).To(Equal("Cette conversation a été fermée faute d'activité."))
	g.Expect(all[3].Reason).To(Equal(api.EndIdleTimeout))
	got, err := bot.Chat(ctx, c.ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.State).To(Equal(api.ChatEnded))
	g.Expect(got.EndReason).To(Equal(api.EndIdleTimeout))
}
