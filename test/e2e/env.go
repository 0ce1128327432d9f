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
	"errors"
	"fmt"
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

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	ggw "github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// settings are the suite's inputs, from the environment.
type settings struct {
	root        string // the repository root
	kubeconfig  string // KUBECONFIG (required)
	image       string // IMG: the operator image, also the runner and simulator image
	pullPolicy  corev1.PullPolicy
	kubectl     string // KUBECTL, else bin/k8s/v1.37.2/kubectl, else kubectl on PATH
	skipInstall bool   // E2E_SKIP_INSTALL: the operator is already installed; leave it
	skipHelm    bool   // E2E_SKIP_HELM: no Helm chart install check before the suite's install
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
	if v := os.Getenv("E2E_SKIP_HELM"); v != "" {
		skip, err := strconv.ParseBool(v)
		s.skipHelm = err != nil || skip
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

// bot calls a gateway's escalation API, through its Service, as a bot would: with the
// API's Go client.
type bot struct {
	api *escalation.Client
}

// escalate posts a new chat and returns its id.
func (b *bot) escalate(conversationID, domain string) string {
	GinkgoHelper()
	var c escalation.Chat
	// Retried on network errors: an escalation is idempotent per conversation (200 and the
	// same chat while it is live).
	Eventually(func(g Gomega) {
		var err error
		c, _, err = b.api.Escalate(ctx, escalation.Request{
			ConversationID: conversationID, Domain: domain,
			User:    escalation.User{FirstName: "Jane", LastName: "Doe", Email: "jane@example.com"},
			Subject: "Billing", Attributes: map[string]string{"Plan": "Gold"},
		})
		g.Expect(err).NotTo(HaveOccurred(), "POST /v1/chats")
	}).Should(Succeed())
	Expect(c.ID).To(HavePrefix("r0-"), "the id of runner 0's chat")
	return c.ID
}

// chat reads a chat; it returns the HTTP status (the problem's when the call is refused),
// and the chat when 200.
func (b *bot) chat(g Gomega, id string) (int, escalation.Chat) {
	c, err := b.api.Chat(ctx, id)
	if p, ok := errors.AsType[*escalation.Problem](err); ok {
		return p.Status, escalation.Chat{}
	}
	g.Expect(err).NotTo(HaveOccurred(), "GET /v1/chats/%s", id)
	return http.StatusOK, c
}

// waitChat waits for a chat's state and returns the chat.
func (b *bot) waitChat(id string, state escalation.ChatState) escalation.Chat {
	GinkgoHelper()
	var c escalation.Chat
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
func (b *bot) longPoll(id string, until func(events []escalation.Event) bool) []escalation.Event {
	GinkgoHelper()
	var all []escalation.Event
	var next int64
	Eventually(func(g Gomega) {
		page, err := b.api.Events(ctx, id, next, 30*time.Second)
		g.Expect(err).NotTo(HaveOccurred(), "events")
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
	return newTenantWith(simIdleTimeout, nil)
}

// newTenantWith creates a tenant whose simulator ends chats unpolled for idleTimeout and
// whose gateway mutate changes first (nil: none).
func newTenantWith(idleTimeout time.Duration, mutate func(*chatv1alpha1.GenesysGateway)) *tenant {
	GinkgoHelper()
	ns := newNamespace()
	password := randomString()
	sim := startSimulator(ns, password, idleTimeout)
	// Granted to the tenant's gateway only: naming a Secret in a gateway is not enough.
	labels, annotations := ggw.GrantListedTo(gatewayName)
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: basicAuthSecret, Labels: labels, Annotations: annotations},
		Type:       corev1.SecretTypeBasicAuth,
		StringData: map[string]string{corev1.BasicAuthUsernameKey: simUser, corev1.BasicAuthPasswordKey: password},
	})).To(Succeed())
	gw := newGateway(ns, gatewayName, sim.serviceURL, true)
	gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: basicAuthSecret}}
	if mutate != nil {
		mutate(gw)
	}
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
	return client.MatchingLabels{ggw.LabelName: ggw.Component, ggw.LabelInstance: key.Name}
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
		g.Expect(s.Data).To(HaveKey(ggw.TokenKey))
		b = bot{api: escalation.NewClient(serviceURL(g, key.Namespace, key.Name+"-escalations", ggw.ServicePort), string(s.Data[ggw.TokenKey]), httpClient)}
		// The Service routes to a runner that takes the token (401 otherwise).
		_, err := b.api.Chat(ctx, "r0-unknown")
		p, ok := errors.AsType[*escalation.Problem](err)
		g.Expect(ok).To(BeTrue(), "a problem, got %v", err)
		g.Expect(p.Status).To(Equal(http.StatusNotFound), "%s", p)
	}).Should(Succeed(), "the escalation Service answers on its ClusterIP from the host")
	return &b
}

// randomString is a random 32-hex-digit string.
func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
