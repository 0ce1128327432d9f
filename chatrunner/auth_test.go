package chatrunner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
)

// snapshotWithBasicAuth is a gateway authenticating with HTTP Basic from Secret gms-basic,
// holding data.
func snapshotWithBasicAuth(data map[string][]byte) *live.Snapshot {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "gms-basic"}}
	return &live.Snapshot{
		Gateway: gw,
		Secrets: map[string]*corev1.Secret{"gms-basic": {ObjectMeta: metav1.ObjectMeta{Name: "gms-basic", ResourceVersion: "1"}, Data: data}},
	}
}

// following is an authenticator of a snapshot the test replaces, as the watcher does.
func following(snap *live.Snapshot) (*authenticator, func(*live.Snapshot)) {
	var current atomic.Pointer[live.Snapshot]
	current.Store(snap)
	return newAuthenticator(current.Load, http.DefaultTransport, logr.Discard()), func(s *live.Snapshot) { current.Store(s) }
}

func authorize(a *authenticator) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, "https://gms.example/genesys/2/chat/support", nil)
	if err != nil {
		return nil, err
	}
	return req, a.Authorize(context.Background(), req)
}

func TestBasicAuthFollowsTheSecret(t *testing.T) {
	g := NewWithT(t)
	a, publish := following(snapshotWithBasicAuth(map[string][]byte{"username": []byte("runner"), "password": []byte("pa:55")}))
	req, err := authorize(a)
	g.Expect(err).NotTo(HaveOccurred())
	user, pass, ok := req.BasicAuth()
	g.Expect(ok).To(BeTrue())
	g.Expect(user+" "+pass).To(Equal("runner pa:55"), "a colon in the password is fine")

	publish(snapshotWithBasicAuth(map[string][]byte{"username": []byte("runner2"), "password": []byte("n3w")}))
	req, err = authorize(a)
	g.Expect(err).NotTo(HaveOccurred())
	user, pass, _ = req.BasicAuth()
	g.Expect(user+" "+pass).To(Equal("runner2 n3w"), "a rotation applies to the next call")

	publish(snapshotWithBasicAuth(map[string][]byte{"username": []byte("runner2")}))
	req, err = authorize(a)
	g.Expect(err).To(MatchError(ContainSubstring(`Secret "gms-basic" has no key "password"`)))
	g.Expect(errors.Is(err, live.ErrKeyMissing)).To(BeTrue())
	g.Expect(err.Error()).NotTo(ContainSubstring("n3w"))
	g.Expect(req.Header.Get("Authorization")).To(BeEmpty())
}

// TestRunnerRefusesAUsernameWithAColon: the runner's Basic auth is gms.BasicAuth's, so a
// username RFC 7617 forbids is refused before any request leaves, and not retried.
func TestRunnerRefusesAUsernameWithAColon(t *testing.T) {
	g := NewWithT(t)
	const password = "s3cret-pa55"
	a, _ := following(snapshotWithBasicAuth(map[string][]byte{"username": []byte("acme:ops"), "password": []byte(password)}))
	req, err := authorize(a)
	g.Expect(err).To(MatchError("basic auth: username contains ':'"))
	g.Expect(req.Header.Get("Authorization")).To(BeEmpty())

	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	client, err := gms.New(gms.Options{
		Settings: gms.Settings{ServiceURL: srv.URL, ServiceName: "support", Retry: gms.RetryPolicy{MaxAttempts: 3}},
		Auth:     a,
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, _, err = client.RequestChat(context.Background(), gms.ChatRequest{Nickname: "n"})
	var ge *gms.Error
	g.Expect(errors.As(err, &ge)).To(BeTrue())
	g.Expect(ge.Code()).To(Equal("auth"))
	g.Expect(ge.Attempts).To(Equal(1))
	g.Expect(err).To(MatchError(ContainSubstring("username contains ':'")))
	g.Expect(err.Error()).NotTo(ContainSubstring(password))
	g.Expect(requests.Load()).To(BeZero(), "nothing was sent")
}
