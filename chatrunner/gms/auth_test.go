package gms_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// TestBasicAuthRefusesWhatRFC7617Forbids: the checks of the one Basic implementation,
// which the runner's authenticator goes through. A refused request carries no
// Authorization header, and no error holds the password.
func TestBasicAuthRefusesWhatRFC7617Forbids(t *testing.T) {
	const password = "pa:55-w0rd"
	for name, tc := range map[string]struct {
		creds func() (string, string, error)
		want  string
	}{
		"no credentials func":           {nil, "basic auth: no credentials"},
		"credentials missing":           {func() (string, string, error) { return "", "", errors.New(`Secret "gms" has no key "password"`) }, `basic auth credentials: Secret "gms" has no key "password"`},
		"empty username":                {func() (string, string, error) { return "", password, nil }, "basic auth: username is empty"},
		"username with ':'":             {func() (string, string, error) { return "acme:ops", password, nil }, "basic auth: username contains ':'"},
		"accepted, ':' in the password": {func() (string, string, error) { return "acme", password, nil }, ""},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			req, err := http.NewRequest(http.MethodPost, "https://gms.example/genesys/2/chat/support", nil)
			g.Expect(err).NotTo(HaveOccurred())
			err = gms.BasicAuth(tc.creds).Authorize(context.Background(), req)
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				user, pass, ok := req.BasicAuth()
				g.Expect(ok).To(BeTrue())
				g.Expect(user + " " + pass).To(Equal("acme " + password))
				return
			}
			g.Expect(err).To(MatchError(tc.want))
			g.Expect(err.Error()).NotTo(ContainSubstring(password))
			g.Expect(req.Header.Get("Authorization")).To(BeEmpty())
		})
	}
}
