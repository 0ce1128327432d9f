package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// podRunner is a runner started in this process exactly as a pod of the operator's
// StatefulSet would start it: the container's command and args, its environment resolved
// as the kubelet would (downward API), and the API server reached as the pod's
// ServiceAccount. Only the listen addresses are moved to free loopback ports.
type podRunner struct {
	pod                  string
	api, health, metrics string // base URLs
	logs                 *syncBuffer
	done                 chan int
}

// startPodRunner starts ordinal 0 of a gateway's runner StatefulSet.
func startPodRunner(runCtx context.Context, sts *appsv1.StatefulSet) *podRunner {
	GinkgoHelper()
	pod := sts.Name + "-0"
	spec := sts.Spec.Template.Spec
	var c corev1.Container
	for _, ct := range spec.Containers {
		if ct.Name == gateway.ContainerName {
			c = ct
		}
	}
	Expect(c.Command).To(Equal([]string{"/manager"}), "the image's binary")
	Expect(c.Args).NotTo(BeEmpty())
	Expect(c.Args[0]).To(Equal(gateway.RunnerSubcommand))

	env := map[string]string{"KUBECONFIG": serviceAccountKubeconfig(sts.Namespace, spec.ServiceAccountName)}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = pod
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = sts.Namespace
		}
	}
	r := &podRunner{pod: pod, logs: &syncBuffer{}, done: make(chan int, 1)}
	addrs := make([]string, 3)
	for i := range addrs {
		addrs[i] = freeAddr()
	}
	r.api, r.health, r.metrics = "http://"+addrs[0], "http://"+addrs[1], "http://"+addrs[2]
	args := append(append([]string{}, c.Args[1:]...),
		"--http-bind-address="+addrs[0], "--health-probe-bind-address="+addrs[1], "--metrics-bind-address="+addrs[2])
	go func() {
		r.done <- chatrunner.MainWithEnv(runCtx, args, func(k string) string { return env[k] }, r.logs)
	}()
	return r
}

// serviceAccountKubeconfig writes a kubeconfig that reaches the test API server as a
// ServiceAccount (impersonated by the admin), so RBAC applies as in the pod.
func serviceAccountKubeconfig(namespace, serviceAccount string) string {
	GinkgoHelper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["runner"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		Impersonate:           fmt.Sprintf("system:serviceaccount:%s:%s", namespace, serviceAccount),
	}
	kc.Contexts["runner"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "runner"}
	kc.CurrentContext = "runner"
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
	return path
}

// freeAddr returns a free loopback address.
func freeAddr() string {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a runner's logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = GinkgoWriter.Write(p)
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runnerStatefulSet waits for a gateway's runner StatefulSet.
func runnerStatefulSet(key client.ObjectKey) *appsv1.StatefulSet {
	GinkgoHelper()
	sts := &appsv1.StatefulSet{}
	Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name + "-runner"}, sts)
	}).Should(Succeed())
	return sts
}

// runGateway starts runner 0 of a deployed gateway as its pod would, marks its StatefulSet
// rolled out (there is no kubelet), and waits for Ready and the runner's readiness. It
// returns the runner and a bot client holding the escalation token; the runner stops, and
// must stop cleanly, when the spec ends.
func runGateway(key client.ObjectKey) (*podRunner, *botClient) {
	GinkgoHelper()
	sts := runnerStatefulSet(key)
	runCtx, stop := context.WithCancel(ctx)
	runner := startPodRunner(runCtx, sts)
	DeferCleanup(func() {
		stop()
		Eventually(runner.done).Should(Receive(Equal(0)), "the runner stops cleanly")
	})
	rollOut(client.ObjectKeyFromObject(sts), 1)
	expectReady(key, metav1.ConditionTrue, chatv1alpha1.AvailableReason)
	Eventually(func() (int, error) { return httpStatus(runner.health + "/readyz") }).Should(Equal(http.StatusOK))
	token := &corev1.Secret{}
	name := getGateway(Default, key).Status.EscalationTokenSecretName
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: name}, token)).To(Succeed())
	return runner, &botClient{base: runner.api, token: string(token.Data["token"])}
}
