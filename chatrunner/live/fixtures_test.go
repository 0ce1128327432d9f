package live_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Secret values of the fixtures: they must never show in logs or errors.
const (
	password        = "s3cret-password"
	rotatedPassword = "r0tated-password"
	token           = "t0ken-value"
	directory       = "jane.doe@example.com: Jane D.\n"
)

// fixture is a namespace with a gateway "acme" referencing the Secret acme-gms (basic
// auth), the generated token Secret acme-escalation-token and, optionally, the agent
// directory ConfigMap agents.
type fixture struct {
	ns   string
	gw   *chatv1alpha1.GenesysGateway
	logs *logBuffer
}

// newFixture creates the namespace and the gateway, and grants the runner its Role.
func newFixture(withDirectory bool) *fixture {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "live-"}}
	Expect(admin.Create(ctx, ns)).To(Succeed())
	f := &fixture{ns: ns.Name, logs: &logBuffer{}}
	f.gw = &chatv1alpha1.GenesysGateway{
		ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns.Name},
		Spec: chatv1alpha1.GenesysGatewaySpec{
			Domain: "acme.example",
			Connection: chatv1alpha1.Connection{
				ServiceURL:  "https://gms.example.com",
				ServiceName: "chat",
				BasicAuth:   &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "acme-gms"}},
			},
		},
	}
	if withDirectory {
		f.gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
	}
	Expect(admin.Create(ctx, f.gw)).To(Succeed())
	f.grant()
	DeferCleanup(func() {
		Expect(f.logs.String()).NotTo(SatisfyAny(
			ContainSubstring(password), ContainSubstring(rotatedPassword), ContainSubstring(token)),
			"the watcher logged a Secret value")
		Expect(f.logs.String()).NotTo(ContainSubstring("Response Body"), "client-go logged a response body")
	})
	return f
}

// grant applies the Role and RoleBinding the operator renders for the gateway as it is,
// as the operator does after each spec change.
func (f *fixture) grant() {
	GinkgoHelper()
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(f.gw), f.gw)).To(Succeed())
	var secrets, configMaps []string
	for _, r := range gateway.References(f.gw) {
		if r.Kind == "Secret" {
			secrets = append(secrets, r.Name)
		} else {
			configMaps = append(configMaps, r.Name)
		}
	}
	opts := metav1.ApplyOptions{FieldManager: "live-test", Force: true}
	_, err := kube.RbacV1().Roles(f.ns).Apply(ctx, render.Role(f.gw, secrets, configMaps, render.StoreNames{}), opts)
	Expect(err).NotTo(HaveOccurred())
	_, err = kube.RbacV1().RoleBindings(f.ns).Apply(ctx, render.RoleBinding(f.gw), opts)
	Expect(err).NotTo(HaveOccurred())
}

// runnerConfig reaches the API server as the runner's ServiceAccount.
func (f *fixture) runnerConfig() *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", f.ns, gateway.RunnerName(f.gw)),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + f.ns, "system:authenticated"},
	}
	return c
}

// start runs a watcher as the runner until the test ends and waits for its first view.
func (f *fixture) start() *live.Watcher {
	GinkgoHelper()
	w, err := live.New(live.Options{
		Config:  f.runnerConfig(),
		Gateway: types.NamespacedName{Namespace: f.ns, Name: f.gw.Name},
		Log:     f.logs.logger(),
	})
	Expect(err).NotTo(HaveOccurred())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	DeferCleanup(func() {
		stop()
		Eventually(done).Should(Receive(BeNil()))
	})
	waitCtx, cancelWait := context.WithTimeout(ctx, 20*time.Second)
	defer cancelWait()
	Expect(w.WaitForGateway(waitCtx)).To(Succeed())
	return w
}

func (f *fixture) createSecret(name string, data map[string]string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: grantAll}, StringData: data}
	Expect(admin.Create(ctx, s)).To(Succeed())
	return s
}

func (f *fixture) createDirectory() *corev1.ConfigMap {
	GinkgoHelper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "agents", Namespace: f.ns, Labels: grantAll},
		Data: map[string]string{"agents.yaml": directory}}
	Expect(admin.Create(ctx, cm)).To(Succeed())
	return cm
}

// updateGateway changes the gateway's spec.
func (f *fixture) updateGateway(change func(*chatv1alpha1.GenesysGateway)) {
	GinkgoHelper()
	Eventually(func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(f.gw), f.gw); err != nil {
			return err
		}
		change(f.gw)
		return admin.Update(ctx, f.gw)
	}).Should(Succeed())
}

// drain discards a pending change signal.
func drain(w *live.Watcher) {
	select {
	case <-w.Changed():
	default:
	}
}

// logBuffer collects a watcher's logs, to check them, and echoes them to GinkgoWriter.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		line := prefix + " " + args + "\n"
		b.buf.WriteString(line)
		_, _ = GinkgoWriter.Write([]byte(line))
	}, funcr.Options{Verbosity: 10})
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// keys returns a map's keys, sorted.
func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// grantAll grants an object to every gateway of its namespace.
var grantAll = map[string]string{gateway.LabelGrant: gateway.GrantAll}
