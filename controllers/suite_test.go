package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers"
)

// testImage is the runner image the operator under test defaults to.
const testImage = "registry.example.com/genesys-gateway-operator:test"

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client // the test's own client: direct, uncached
	scheme    = runtime.NewScheme()
	writes    = &writeCounter{byNamespace: map[string]int{}}
	// reconciler is the operator under test, running in a manager; tests may also call
	// its Reconcile directly.
	reconciler *controllers.GatewayReconciler
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller suite (envtest)")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	// Generous for a loaded CI machine: a passing wait returns as soon as it holds.
	SetDefaultEventuallyTimeout(10 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.TODO())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(chatv1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// RBAC as on a real cluster: the runner of the chat specs acts as its ServiceAccount.
	testEnv.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// Run from an IDE: use what `make envtest` built.
		dirs, _ := filepath.Glob(filepath.Join("..", "bin", "k8s", "*"))
		Expect(dirs).NotTo(BeEmpty(), "run `make envtest` first, or `make test`")
		testEnv.BinaryAssetsDirectory = dirs[len(dirs)-1]
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	reconciler = &controllers.GatewayReconciler{
		Client:      interceptor.NewClient(noWatch{mgr.GetClient()}, writes.funcs()),
		APIReader:   mgr.GetAPIReader(),
		Recorder:    mgr.GetEventRecorder("genesys-gateway-operator"),
		RunnerImage: testImage,
	}
	Expect(reconciler.SetupWithManager(ctx, mgr)).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})

// writeCounter counts the operator's write requests per namespace.
type writeCounter struct {
	mu          sync.Mutex
	byNamespace map[string]int
}

func (w *writeCounter) count(obj any) {
	var m struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	b, _ := json.Marshal(obj)
	_ = json.Unmarshal(b, &m)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byNamespace[m.Metadata.Namespace]++
}

// In returns the number of writes counted in a namespace.
func (w *writeCounter) In(namespace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byNamespace[namespace]
}

func (w *writeCounter) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.count(obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.count(obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.count(obj)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.count(obj)
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			w.count(obj)
			return c.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			w.count(obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.count(obj)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			w.count(obj)
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	}
}

// noWatch lets the interceptor wrap the manager's client, which does not watch.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("watch is not supported")
}
