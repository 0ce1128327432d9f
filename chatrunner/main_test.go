package chatrunner

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
)

func TestMainRefusesAGatewayThatIsNotNamespaceName(t *testing.T) {
	for _, arg := range []string{"", "acme", "/acme", "tenant/"} {
		if code := Main(context.Background(), []string{"--gateway=" + arg}); code != 2 {
			t.Errorf("--gateway=%q: exit code %d, want 2", arg, code)
		}
	}
}

func TestRunServesHealthProbesUntilStopped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Gateway: types.NamespacedName{Namespace: "tenant", Name: "acme"}, HealthAddr: addr})
	}()
	g := NewWithT(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		g.Eventually(func(g Gomega) {
			resp, err := http.Get("http://" + addr + path)
			g.Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK), path)
			body, err := io.ReadAll(resp.Body)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(body)).To(Equal("ok\n"), path)
		}).Should(Succeed())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("probes still served after stop")
	}
}
