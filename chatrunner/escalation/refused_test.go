package escalation_test

import (
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// waitingChat escalates a conversation and returns the chat's id and Genesys chat id once
// Genesys has it.
func waitingChat(g *WithT, r *runner, conversation string) (string, string) {
	status, _, created := r.call(g, http.MethodPost, "/v1/chats", escalationBody(conversation))
	g.Expect(status).To(Equal(http.StatusCreated))
	id := created["id"].(string)
	var got map[string]any
	g.Eventually(func() any {
		_, _, got = r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		return got["state"]
	}).Should(Equal("WaitingForAgent"))
	return id, got["genesysChatId"].(string)
}

func TestRefusedMessageIsAProblemNot204(t *testing.T) {
	// Polls too rare to interfere: the message alone meets the faults.
	r := start(t, func(s *chat.Settings) { s.PollInterval = time.Hour }, nil, "r0", nil)
	message := map[string]any{"text": "hello"}

	t.Run("the refusal ends the chat", func(t *testing.T) {
		g := NewWithT(t)
		id, gid := waitingChat(g, r, "conv-249")
		r.env.Sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, ChatEnded: true, Times: 1})
		status, _, body := r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", message)
		g.Expect(status).To(Equal(http.StatusBadGateway))
		g.Expect(body["type"]).To(Equal(api.ProblemGenesysRefused))
		g.Expect(body["detail"]).To(And(ContainSubstring("249 Media server was not able to execute request"), ContainSubstring("chat is over")))
		_, _, got := r.call(g, http.MethodGet, "/v1/chats/"+id, nil)
		g.Expect(got["state"]).To(Equal("Failed"))
	})
	t.Run("the chat goes on", func(t *testing.T) {
		g := NewWithT(t)
		id, gid := waitingChat(g, r, "conv-8201")
		r.env.Sim.Inject(gmssim.Fault{Kind: gmssim.FaultStatus2, Op: gms.OpSend, ChatID: gid, Times: 1,
			Errors: []gms.APIError{{Code: 8201, Advice: "no such user"}}})
		status, _, body := r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", message)
		g.Expect(status).To(Equal(http.StatusBadGateway))
		g.Expect(body["type"]).To(Equal(api.ProblemGenesysRefused))
		g.Expect(body["detail"]).To(And(ContainSubstring("8201 no such user"), ContainSubstring("chat goes on")))
		status, _, _ = r.call(g, http.MethodPost, "/v1/chats/"+id+"/messages", message)
		g.Expect(status).To(Equal(http.StatusNoContent))
	})
}
