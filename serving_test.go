package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// TestMetricsRefuseUnauthenticatedAndUnauthorizedScrapes starts the operator's manager
// with its metrics options against a real API server: a scrape without a token is refused,
// a token of a ServiceAccount without the metrics-reader rights is refused, and one bound
// to them is served.
func TestMetricsRefuseUnauthenticatedAndUnauthorizedScrapes(t *testing.T) {
	g := NewWithT(t)
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest (KUBEBUILDER_ASSETS: make test sets it): %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	addr := freeAddr(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsOptions(addr, true)})
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = mgr.Start(ctx) }()

	cs := kubernetes.NewForConfigOrDie(cfg)
	reader := serviceAccountToken(ctx, g, cs, "scraper", true)
	stranger := serviceAccountToken(ctx, g, cs, "stranger", false)

	scrape := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		// The server's certificate is self-signed; what is tested is who may read.
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
		resp, err := c.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		return resp.StatusCode
	}
	g.Eventually(func() int { return scrape(reader) }).WithTimeout(30*time.Second).Should(Equal(http.StatusOK), "an authorized scraper reads the metrics")
	g.Expect(scrape("")).To(Equal(http.StatusUnauthorized), "no token")
	// controller-runtime's filter answers 500 when the TokenReview of a malformed token
	// fails; what matters is that nothing is served.
	g.Expect(scrape("not-a-token")).To(BeNumerically(">=", 400), "a token the API server does not know")
	g.Expect(scrape(stranger)).To(Equal(http.StatusForbidden), "authenticated but not allowed GET /metrics")

	plain := metricsOptions(addr, false)
	g.Expect(plain.SecureServing).To(BeFalse())
	g.Expect(plain.FilterProvider).To(BeNil(), "--metrics-secure=false serves to anyone, for local runs")
}

func TestWatchNamespacesLimitsTheCaches(t *testing.T) {
	g := NewWithT(t)
	opts := watchNamespaces(ctrl.Options{}.Cache, "")
	g.Expect(opts.DefaultNamespaces).To(BeEmpty(), "empty: every namespace")
	opts = watchNamespaces(ctrl.Options{}.Cache, "tenant-acme, tenant-globex,")
	g.Expect(opts.DefaultNamespaces).To(HaveLen(2))
	g.Expect(opts.DefaultNamespaces).To(HaveKey("tenant-acme"))
	g.Expect(opts.DefaultNamespaces).To(HaveKey("tenant-globex"))
}

// serviceAccountToken makes a ServiceAccount, bound to a ClusterRole that may GET /metrics
// when allowed, and returns a token of it.
func serviceAccountToken(ctx context.Context, g Gomega, cs kubernetes.Interface, name string, allowed bool) string {
	_, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	if allowed {
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-metrics-reader"},
			Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-metrics-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name + "-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: "default"}},
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
