//go:build e2e

// Package e2e is the end-to-end suite: it installs the operator on the cluster KUBECONFIG
// points at and drives real runner pods, a GMS simulator pod and the escalation Service.
// Run it with `go test -tags e2e ./test/e2e/` (see suite_test.go for the inputs).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// settings are the suite's inputs, from the environment.
type settings struct {
	root        string // the repository root
	kubeconfig  string // KUBECONFIG (required)
	image       string // IMG: the operator image, also the runner and simulator image
	pullPolicy  corev1.PullPolicy
	kubectl     string // KUBECTL, else bin/k8s/v1.37.2/kubectl, else kubectl on PATH
	skipInstall bool   // E2E_SKIP_INSTALL: the operator is already installed; leave it
}

func loadSettings() settings {
	GinkgoHelper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	Expect(filepath.Join(root, "go.mod")).To(BeAnExistingFile(), "run from test/e2e (go test ./test/e2e/)")
	s := settings{
		root:       root,
		kubeconfig: os.Getenv("KUBECONFIG"),
		image:      envOr("IMG", "localhost/genesys-gateway-operator:e2e"),
		pullPolicy: corev1.PullPolicy(envOr("IMAGE_PULL_POLICY", string(corev1.PullIfNotPresent))),
		kubectl:    os.Getenv("KUBECTL"),
	}
	Expect(s.kubeconfig).NotTo(BeEmpty(), "KUBECONFIG must name the kubeconfig of the cluster under test")
	Expect(s.pullPolicy).To(BeElementOf(corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever), "IMAGE_PULL_POLICY")
	if v := os.Getenv("E2E_SKIP_INSTALL"); v != "" {
		skip, err := strconv.ParseBool(v)
		s.skipInstall = err != nil || skip // any value but a false one
	}
	if s.kubectl == "" {
		s.kubectl = filepath.Join(root, "bin", "k8s", "v1.37.2", "kubectl")
		if _, err := os.Stat(s.kubectl); err != nil {
			s.kubectl, err = exec.LookPath("kubectl")
			Expect(err).NotTo(HaveOccurred(), "no bin/k8s/v1.37.2/kubectl and no kubectl on PATH: set KUBECTL")
		}
	}
	return s
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// runKubectl runs kubectl against KUBECONFIG (inherited) and returns its stdout and
// stderr; err is non-nil when it exits non-zero.
func runKubectl(args ...string) (stdout, stderr string, err error) {
	c, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, cfg.kubectl, args...)
	cmd.Dir = cfg.root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(GinkgoWriter, "$ kubectl %s\n", strings.Join(args, " "))
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// kubectl runs kubectl and expects it to succeed.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, errOut, err := runKubectl(args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	return out
}

// httpClient reaches ClusterIPs and pod IPs from the host; never through a proxy of the
// environment. The timeout covers a 30 s long poll.
var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
	Timeout:   90 * time.Second,
}

// serviceURL is http://<clusterIP>:<port> of a Service. The cluster has no DNS the host
// could use, so the test (and the gateway, for the simulator) reaches Services by
// ClusterIP: the local cluster routes them from the host (kube-proxy). On kind, route the
// service CIDR through the node first (see the README).
func serviceURL(g Gomega, namespace, name string, port int32) string {
	svc := &corev1.Service{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, svc)).To(Succeed())
	g.Expect(svc.Spec.ClusterIP).NotTo(BeElementOf("", corev1.ClusterIPNone), "Service %s/%s has no ClusterIP", namespace, name)
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port)))
}

// call sends a JSON request (body nil: none) with an optional bearer token and returns
// the status and the body.
func call(g Gomega, method, url, token string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		g.Expect(err).NotTo(HaveOccurred())
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	g.Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred(), "%s %s", method, url)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	g.Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, raw
}

// bot calls a gateway's escalation API, through its Service, as a bot would.
type bot struct {
	base, token string
}

// chatView is what GET /v1/chats/{id} answers.
type chatView struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversationId"`
	GenesysChatID  string `json:"genesysChatId"`
	State          string `json:"state"`
	EndReason      string `json:"endReason"`
}

// escalate posts a new chat and returns its id.
func (b *bot) escalate(conversationID, domain string) string {
	GinkgoHelper()
	var c chatView
	// Retried on network errors: an escalation is idempotent per conversation (200 and the
	// same chat while it is live).
	Eventually(func(g Gomega) {
		status, raw := call(g, http.MethodPost, b.base+"/v1/chats", b.token, map[string]any{
			"conversationId": conversationID, "domain": domain,
			"user":    map[string]any{"firstName": "Jane", "lastName": "Doe", "email": "jane@example.com"},
			"subject": "Billing", "attributes": map[string]string{"Plan": "Gold"},
		})
		g.Expect(status).To(BeElementOf(http.StatusCreated, http.StatusOK), "POST /v1/chats: %s", raw)
		g.Expect(json.Unmarshal(raw, &c)).To(Succeed())
	}).Should(Succeed())
	Expect(c.ID).To(HavePrefix("r0-"), "the id of runner 0's chat")
	return c.ID
}

// chat reads a chat; it returns the HTTP status, and the chat when 200.
func (b *bot) chat(g Gomega, id string) (int, chatView) {
	status, raw := call(g, http.MethodGet, b.base+"/v1/chats/"+id, b.token, nil)
	var c chatView
	if status == http.StatusOK {
		g.Expect(json.Unmarshal(raw, &c)).To(Succeed())
	}
	return status, c
}

// waitChat waits for a chat's state and returns the chat.
func (b *bot) waitChat(id, state string) chatView {
	GinkgoHelper()
	var c chatView
	Eventually(func(g Gomega) {
		var status int
		status, c = b.chat(g, id)
		g.Expect(status).To(Equal(http.StatusOK))
		g.Expect(c.State).To(Equal(state))
	}).Should(Succeed())
	return c
}

// longPoll reads a chat's events with long polls (wait=30s) from seq 0 until until holds
// for all the events read, and returns them.
func (b *bot) longPoll(id string, until func(events []map[string]any) bool) []map[string]any {
	GinkgoHelper()
	var all []map[string]any
	next := 0
	Eventually(func(g Gomega) {
		status, raw := call(g, http.MethodGet, fmt.Sprintf("%s/v1/chats/%s/events?after=%d&wait=30s", b.base, id, next), b.token, nil)
		g.Expect(status).To(Equal(http.StatusOK), "events: %s", raw)
		var page struct {
			Events []map[string]any `json:"events"`
			Next   int              `json:"next"`
		}
		g.Expect(json.Unmarshal(raw, &page)).To(Succeed())
		all = append(all, page.Events...)
		next = max(next, page.Next)
		g.Expect(until(all)).To(BeTrue(), "events so far: %v", all)
	}).WithPolling(10 * time.Millisecond).Should(Succeed())
	return all
}

// tenant is a namespace enforcing the restricted Pod Security Standard, with a GMS
// simulator and a deployed gateway that talks to it with HTTP Basic authentication.
type tenant struct {
	ns     string
	gw     client.ObjectKey
	domain string
	sim    *simulator
}

// Names in a tenant.
const (
	gatewayName     = "acme"
	basicAuthSecret = "acme-gms-basic"
	tenantDomain    = "acme"
)

// newTenant creates a tenant; its namespace is deleted when the container ends.
func newTenant() *tenant {
	GinkgoHelper()
	ns := newNamespace()
	password := randomString()
	sim := startSimulator(ns, password)
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: basicAuthSecret},
		StringData: map[string]string{"username": simUser, "password": password},
	})).To(Succeed())
	gw := newGateway(ns, gatewayName, sim.serviceURL, true)
	gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: basicAuthSecret}}
	Expect(k8s.Create(ctx, gw)).To(Succeed())
	return &tenant{ns: ns, gw: client.ObjectKeyFromObject(gw), domain: tenantDomain, sim: sim}
}

// newNamespace creates a namespace that enforces, audits and warns on the restricted Pod
// Security Standard: every pod the test sees running there was admitted as restricted.
func newNamespace() string {
	GinkgoHelper()
	restricted := map[string]string{}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		restricted["pod-security.kubernetes.io/"+mode] = "restricted"
		restricted["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gg-e2e-", Labels: restricted}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	namespaces = append(namespaces, ns.Name)
	DeferCleanup(func() {
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, ns))).To(Succeed())
	})
	return ns.Name
}

// newGateway returns a gateway of the tenant domain polling every second. It has one
// runner: forwarding a call between runners goes by pod DNS name
// (<g>-runner-1.<g>-runners.<ns>.svc), and the local cluster has no cluster DNS, so with
// two runners a call the Service sends to the wrong one would fail. The runner image is
// left to the operator's RUNNER_IMAGE, which the install set to IMG.
func newGateway(ns, name, gmsURL string, deploy bool) *chatv1alpha1.GenesysGateway {
	return &chatv1alpha1.GenesysGateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: chatv1alpha1.GenesysGatewaySpec{
			Domain: tenantDomain,
			Deploy: deploy,
			Connection: chatv1alpha1.Connection{
				ServiceURL:  gmsURL,
				ServiceName: "customer-support",
			},
			PollingIntervalSeconds: 1,
			Runner: chatv1alpha1.Runner{
				Replicas:        ptr.To[int32](1),
				ImagePullPolicy: cfg.pullPolicy,
			},
		},
	}
}

// gateway reads a gateway.
func gateway(g Gomega, key client.ObjectKey) *chatv1alpha1.GenesysGateway {
	gw := &chatv1alpha1.GenesysGateway{}
	g.Expect(k8s.Get(ctx, key, gw)).To(Succeed())
	return gw
}

// runnerPodName is the pod of runner 0.
func runnerPodName(key client.ObjectKey) string {
	return key.Name + "-runner-0"
}

// runnerSelector selects a gateway's runner pods.
func runnerSelector(key client.ObjectKey) client.MatchingLabels {
	return client.MatchingLabels{gateway.LabelName: "chat-runner", gateway.LabelInstance: key.Name}
}

// botFor returns a bot calling the gateway's escalation Service (ClusterIP, port 80) with
// the token of the Secret its status names.
func botFor(key client.ObjectKey) *bot {
	GinkgoHelper()
	var b bot
	Eventually(func(g Gomega) {
		name := gateway(g, key).Status.EscalationTokenSecretName
		g.Expect(name).To(Equal(key.Name+"-escalation-token"), "the generated token Secret")
		s := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: name}, s)).To(Succeed())
		g.Expect(s.Data).To(HaveKey(gateway.TokenKey))
		b = bot{base: serviceURL(g, key.Namespace, key.Name+"-escalations", gateway.ServicePort), token: string(s.Data[gateway.TokenKey])}
		// The Service routes to a runner that takes the token (401 otherwise).
		status, raw := call(g, http.MethodGet, b.base+"/v1/chats/r0-unknown", b.token, nil)
		g.Expect(status).To(Equal(http.StatusNotFound), "%s", raw)
	}).Should(Succeed(), "the escalation Service answers on its ClusterIP from the host")
	return &b
}

// randomString is a random 32-hex-digit string.
func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
