package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// TestDemoOnce runs the demo as make demo ARGS=--once does: every step must succeed, and
// afterwards no process it started may be left, nor its work directory.
func TestDemoOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts a control plane and five processes: not in -short mode")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		dirs, _ := filepath.Glob(filepath.Join("..", "..", "bin", "k8s", "*"))
		if len(dirs) == 0 {
			t.Skip("no kube-apiserver and etcd: run `make envtest` (make test does) or set KUBEBUILDER_ASSETS")
		}
		assets = dirs[len(dirs)-1]
	}
	manager := filepath.Join(t.TempDir(), "manager")
	build := exec.Command(goTool(), "build", "-o", manager, filepath.Join("..", ".."))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the operator binary: %v\n%s", err, out)
	}
	before := childProcesses(t)

	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	rec, err := run(ctx, options{
		assets:      assets,
		manager:     manager,
		crds:        filepath.Join("..", "..", "config", "crd", "bases"),
		workdir:     filepath.Join(t.TempDir(), "demo"),
		once:        true,
		replicas:    2,
		stepTimeout: 30 * time.Second,
	}, &out)
	t.Logf("demo output (%s):\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("the demo failed: %v", err)
	}

	for _, want := range []string{
		"==> [12/12]",
		"#2 agentJoined agent=\"Alice\"",
		"message agent=\"Alice\" text=\"Hello Jane, how can I help?\"",
		"GMS simulator transcript",
		"state Ended, endReason AgentClosed",
		"Ended   Alice   AgentClosed",
		"ChatRequested", "AgentJoined", "ChatEnded",
		"calls forwarded between runners",
		"deliveries verified with the Standard Webhooks library",
		"seq 1 notice",
		"Every step succeeded",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if len(rec.pids) != 4 {
		t.Errorf("started %d processes, want 4 (operator, simulator, 2 runners): %v", len(rec.pids), rec.pids)
	}
	for _, pid := range rec.pids {
		// A process not reaped would still answer, as a zombie.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d is still there (kill -0: %v)", pid, err)
		}
	}
	if left := slices.DeleteFunc(childProcesses(t), func(pid int) bool { return slices.Contains(before, pid) }); len(left) > 0 {
		t.Errorf("child processes left (etcd, kube-apiserver?): %v", left)
	}
	if _, err := os.Stat(rec.workdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the work directory %s is still there (%v)", rec.workdir, err)
	}
}

// TestPodProcess checks how a pod of the StatefulSet the operator renders becomes a local
// process: the template's command and args, the listen addresses moved, the environment
// resolved as the kubelet would.
func TestPodProcess(t *testing.T) {
	gw := &chatv1alpha1.GenesysGateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "acme"},
		Spec:       chatv1alpha1.GenesysGatewaySpec{Domain: "acme", Deploy: true, Runner: chatv1alpha1.Runner{Replicas: ptr.To(int32(2))}},
	}
	raw, err := json.Marshal(render.StatefulSet(gw, "img"))
	if err != nil {
		t.Fatal(err)
	}
	sts := &appsv1.StatefulSet{}
	if err := json.Unmarshal(raw, sts); err != nil {
		t.Fatal(err)
	}
	ports := map[int32]string{gateway.HTTPPort: "127.0.0.1:1001", gateway.HealthPort: "127.0.0.1:1002", gateway.MetricsPort: "127.0.0.1:1003"}
	p, err := podProcessFor(sts, 1, "/bin/manager", func(port int32) (string, error) { return ports[port], nil })
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"/bin/manager"}, render.RunnerArgs(gw)...)
	want = append(want, "--http-bind-address=127.0.0.1:1001", "--health-probe-bind-address=127.0.0.1:1002", "--metrics-bind-address=127.0.0.1:1003")
	if !slices.Equal(p.argv, want) {
		t.Errorf("argv = %q, want %q", p.argv, want)
	}
	if p.name != "acme-runner-1" || p.readyAddr != "127.0.0.1:1002" || p.readyPath != "/readyz" {
		t.Errorf("name %s, readiness %s%s", p.name, p.readyAddr, p.readyPath)
	}
	env, err := podEnv(sts, p.name, "/w/kubeconfig", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"POD_NAME=acme-runner-1", "POD_NAMESPACE=tenant-acme", "GOMEMLIMIT=536870912",
		"KUBECONFIG=/w/kubeconfig", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("env = %q, want %q", env, wantEnv)
	}
}

// goTool is the go command of the toolchain running the test.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// childProcesses lists the processes whose parent is this one (Linux); none elsewhere.
func childProcesses(t *testing.T) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == os.Getpid() {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, pid)
		}
	}
	return pids
}
