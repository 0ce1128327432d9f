package ownership_test

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The envtest API server shared by the tests; nil when KUBEBUILDER_ASSETS is unset.
var (
	cfg  *rest.Config
	kube kubernetes.Interface
)

// TestMain starts a real kube-apiserver (with RBAC, which the runners must live within)
// when KUBEBUILDER_ASSETS names its binaries; otherwise only the unit tests run.
func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		os.Exit(m.Run())
	}
	env := &envtest.Environment{}
	env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	var err error
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		os.Exit(1)
	}
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}

// needAPIServer skips a test that needs the envtest API server when there is none.
func needAPIServer(t *testing.T) {
	t.Helper()
	if kube == nil {
		t.Skip("KUBEBUILDER_ASSETS is unset: skipping the envtest test (run `make envtest`, then set it to bin/k8s/<version>)")
	}
}
