package gmssim

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestMainServesUntilCancelled(t *testing.T) {
	g := NewWithT(t)
	pwFile := filepath.Join(t.TempDir(), "password")
	g.Expect(os.WriteFile(pwFile, []byte("file-pa55\n"), 0o600)).To(Succeed())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--addr", addr, "--service-name", "svc", "--context-path", "/gms/chat/",
			"--basic-auth-user", "demo", "--basic-auth-password-file", pwFile, "--idle-timeout", "5m"})
	}()

	post := func(g Gomega, user, password string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/gms/chat/svc",
			strings.NewReader(url.Values{gms.ParamNickname: {"x"}}.Encode()))
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		res, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		return res
	}
	g.Eventually(func(g Gomega) {
		res := post(g, "demo", "file-pa55")
		defer res.Body.Close()
		g.Expect(res.StatusCode).To(Equal(http.StatusOK))
		var resp gms.Response
		g.Expect(json.NewDecoder(res.Body).Decode(&resp)).To(Succeed())
		g.Expect(resp.StatusCode).To(Equal(gms.StatusOK))
	}).Should(Succeed())
	res := post(g, "", "")
	_ = res.Body.Close()
	g.Expect(res.StatusCode).To(Equal(http.StatusUnauthorized))
	res, err := http.Get("http://" + addr + "/sim/chats")
	g.Expect(err).NotTo(HaveOccurred())
	_ = res.Body.Close()
	g.Expect(res.StatusCode).To(Equal(http.StatusOK))

	cancel()
	g.Eventually(done).Should(Receive(Equal(0)))
	_, err = http.Get("http://" + addr + "/sim/chats")
	g.Expect(err).To(HaveOccurred())
}

func TestMainRefusesBadArguments(t *testing.T) {
	g := NewWithT(t)
	empty := filepath.Join(t.TempDir(), "empty")
	g.Expect(os.WriteFile(empty, []byte("\n"), 0o600)).To(Succeed())
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--basic-auth-user", "u"},
		{"--basic-auth-password-file", empty},
		{"--basic-auth-user", "u", "--basic-auth-password-file", filepath.Join(t.TempDir(), "missing")},
		{"--basic-auth-user", "u", "--basic-auth-password-file", empty},
	} {
		g.Expect(Main(context.Background(), args)).To(Equal(2), "%v", args)
	}
	// An address in use fails to serve.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	g.Expect(Main(context.Background(), []string{"--addr", l.Addr().String()})).To(Equal(1))
}
