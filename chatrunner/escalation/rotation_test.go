package escalation_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/escalation"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// tokenSecret is the escalation token Secret's data as a runner reads it live: the
// current token and, during a rotation, the previous one.
type tokenSecret struct {
	mu   sync.Mutex
	data map[string]string
}

func (s *tokenSecret) set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = value
}

func (s *tokenSecret) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
}

// tokens is the runner's token source over the Secret (chatrunner's escalationToken).
func (s *tokenSecret) tokens() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return escalation.Tokens(s.data[gateway.TokenKey], s.data[gateway.PreviousTokenKey]), nil
}

// statusWith calls the API with a bearer token and returns the status and body.
func statusWith(g *WithT, r *runner, bearer string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/v1/chats/r0-1", nil)
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

func TestRotationAcceptsThePreviousTokenUntilItIsRemoved(t *testing.T) {
	g := NewWithT(t)
	const old, fresh = "old-token-7f3a", "new-token-c41d"
	secret := &tokenSecret{data: map[string]string{gateway.TokenKey: old}}
	r := start(t, nil, nil, "r0", secret.tokens)
	accepted := func(bearer string) bool {
		status, body := statusWith(g, r, bearer)
		g.Expect(body).NotTo(ContainSubstring(old))
		g.Expect(body).NotTo(ContainSubstring(fresh))
		// 404: authenticated, and no such chat.
		return status == http.StatusNotFound
	}
	g.Expect(accepted(old)).To(BeTrue(), "before the rotation")
	g.Expect(accepted(fresh)).To(BeFalse())

	// Rotate with overlap: the new token becomes current, the old one previous.
	secret.set(gateway.TokenKey, fresh)
	secret.set(gateway.PreviousTokenKey, old)
	g.Expect(accepted(fresh)).To(BeTrue(), "the new token, at once")
	g.Expect(accepted(old)).To(BeTrue(), "the old token, while token.previous holds it")
	for _, wrong := range []string{"", "wrong", old + fresh, old + " " + fresh, fresh[:5]} {
		g.Expect(accepted(wrong)).To(BeFalse(), "%q", wrong)
	}

	// The bots have moved: the overlap ends.
	secret.remove(gateway.PreviousTokenKey)
	g.Expect(accepted(old)).To(BeFalse(), "the old token, once token.previous is removed")
	g.Expect(accepted(fresh)).To(BeTrue())
}

func TestAnEmptyPreviousTokenAcceptsNothingMore(t *testing.T) {
	g := NewWithT(t)
	secret := &tokenSecret{data: map[string]string{gateway.TokenKey: token, gateway.PreviousTokenKey: " \n"}}
	r := start(t, nil, nil, "r0", secret.tokens)
	for _, bearer := range []string{"", " ", "\t"} {
		status, _ := statusWith(g, r, bearer)
		g.Expect(status).To(Equal(http.StatusUnauthorized), "%q", bearer)
	}
	status, _ := statusWith(g, r, token)
	g.Expect(status).To(Equal(http.StatusNotFound))
}

func TestTokensTrimsAndLeavesOutTokensNoHeaderCanCarry(t *testing.T) {
	g := NewWithT(t)
	g.Expect(escalation.Tokens("current\n", " previous ")).To(Equal([]string{"current", "previous"}), "a Secret made from a file")
	g.Expect(escalation.Tokens("current", "")).To(Equal([]string{"current"}), "no rotation under way")
	g.Expect(escalation.Tokens("two\nlines", "previous")).To(Equal([]string{"previous"}),
		"a token with a line break within is not split into two tokens")
	g.Expect(escalation.Tokens("", " ")).To(BeEmpty())

	// A token from a file is accepted as the bot sends it, without the line break.
	r := start(t, nil, nil, "r0", func() ([]string, error) { return escalation.Tokens(token + "\n"), nil })
	status, _ := statusWith(g, r, token)
	g.Expect(status).To(Equal(http.StatusNotFound))
	status, _ = statusWith(g, r, strings.ToUpper(token))
	g.Expect(status).To(Equal(http.StatusUnauthorized))
}
