//go:build e2e

package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The operator serves its metrics over HTTPS to scrapers the API server authenticates and
// authorizes; the suite scrapes as a ServiceAccount bound to the shipped metrics-reader
// ClusterRole, straight at the pod (the API server's pod proxy would not pass the token).
const (
	metricsPort        = "8443"
	metricsReaderRole  = "genesys-gateway-metrics-reader"
	metricsScraperName = "e2e-metrics-scraper"
)

var (
	scraperOnce  sync.Once
	scraperToken string
)

// metricsToken returns a token of a ServiceAccount allowed to read the operator's metrics.
func metricsToken(g Gomega) string {
	scraperOnce.Do(func() {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: metricsScraperName, Namespace: operatorNamespace}}
		if err := k8s.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: metricsScraperName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: metricsScraperName, Namespace: operatorNamespace}},
		}
		if err := k8s.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
		tr, err := clientset.CoreV1().ServiceAccounts(operatorNamespace).CreateToken(ctx, metricsScraperName,
			&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		scraperToken = tr.Status.Token
	})
	g.Expect(scraperToken).NotTo(BeEmpty())
	return scraperToken
}

// scrapeOperator GETs an operator pod's /metrics with a bearer token (none when empty) and
// returns the status and body.
func scrapeOperator(g Gomega, podName, token string) (int, []byte) {
	pod := &corev1.Pod{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: podName}, pod)).To(Succeed())
	g.Expect(pod.Status.PodIP).NotTo(BeEmpty())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(pod.Status.PodIP, metricsPort)+"/metrics", nil)
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The operator's serving certificate is self-signed; what is tested is who may read.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
	resp, err := c.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	g.Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, body
}

// operatorMetrics reads an operator pod's metrics as an authorized scraper.
func operatorMetrics(g Gomega, podName string) []byte {
	status, body := scrapeOperator(g, podName, metricsToken(g))
	g.Expect(status).To(Equal(http.StatusOK), "an authorized scrape")
	return body
}
