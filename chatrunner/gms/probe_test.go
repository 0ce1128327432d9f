package gms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

func probeClient(t *testing.T, url, serviceName string, auth gms.Authorizer) *gms.Client {
	t.Helper()
	c, err := gms.New(gms.Options{Auth: auth, Settings: gms.Settings{ServiceURL: url, ServiceName: serviceName, Timeout: time.Second,
		Retry: gms.RetryPolicy{MaxAttempts: 3, InitialDelay: 10 * time.Millisecond, Multiplier: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProbe: GMS' answer on a chat that does not exist is reachability; a wrong path, a
// refused credential, an unreachable host or statusCode 1 is not; the probe makes one
// attempt and creates no chat.
func TestProbe(t *testing.T) {
	g := NewWithT(t)
	sim := gmssim.New(gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "u", Password: "p"}})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	password := "p"
	c := probeClient(t, srv.URL, "customer-support", gms.BasicAuth(func() (string, string, error) { return "u", password, nil }))
	g.Expect(c.Probe(context.Background())).To(Succeed(), "the simulator answered statusCode 2 for the made-up chat")
	g.Expect(sim.Chats()).To(BeEmpty(), "no chat was created")

	password = "wrong"
	err := c.Probe(context.Background())
	var gerr *gms.Error
	g.Expect(err).To(BeAssignableToTypeOf(gerr))
	g.Expect(err.(*gms.Error).HTTPStatus).To(Equal(http.StatusUnauthorized))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong"), "never the password")

	unreachable := probeClient(t, "http://127.0.0.1:1", "customer-support", nil)
	g.Expect(unreachable.Probe(context.Background())).NotTo(Succeed())

	calls := 0
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"statusCode":1,"messages":[],"chatEnded":false}`))
	}))
	defer busy.Close()
	g.Expect(probeClient(t, busy.URL, "customer-support", nil).Probe(context.Background())).NotTo(Succeed(), "statusCode 1: GMS cannot serve")
	g.Expect(calls).To(Equal(1), "one attempt: the prober repeats")

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	g.Expect(probeClient(t, notFound.URL, "customer-support", nil).Probe(context.Background())).NotTo(Succeed(), "a 404: not GMS' service path")
}
