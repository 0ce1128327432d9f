package chatrunner

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/ownership"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Options are the runner's command-line options.
type Options struct {
	// Gateway is the namespace/name of the GenesysGateway the runner serves.
	Gateway types.NamespacedName
	// PodName is the runner's pod name (downward API, POD_NAME): it keys the runner's
	// status entry, and its ordinal suffix prefixes its chat ids.
	PodName string
	// HTTPAddr serves the escalation API.
	HTTPAddr string
	// EscalationTLS serves the escalation API over HTTPS with the certificate of the
	// gateway's spec.runner.escalationTLS, and forwards calls to peers over HTTPS.
	EscalationTLS bool
	// HealthAddr serves /healthz and /readyz.
	HealthAddr string
	// MetricsAddr serves /metrics.
	MetricsAddr string
	// Config reaches the API server; from KUBECONFIG, else in-cluster, when nil.
	Config *rest.Config
	// Resolve overrides how runners reach each other (by ordinal); the pods' DNS names
	// through the headless Service when nil. Tests run several runners in one process.
	Resolve func(ordinal int) (*url.URL, error)
	// LeaseDuration, RenewDeadline and RetryPeriod time the chat store Leases: a crashed
	// runner's chats are adopted within about LeaseDuration + RetryPeriod, which must stay
	// well within Genesys' idle timeout (45 s by default). Zero: 15 s, 10 s and 2 s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ProbeInterval is how long the runner waits without an answer from Genesys before it
	// probes GMS (an idle gateway probes this often); ProbeRetry is how often it probes
	// again while its last call or probe failed. Zero: 30 s and 10 s. With 3 failures in a
	// row making the gateway not Ready, an outage shows after about ProbeInterval +
	// 2 x ProbeRetry on an idle gateway.
	ProbeInterval, ProbeRetry time.Duration
}

// Main runs the chat-runner subcommand with its arguments and returns the exit code.
func Main(ctx context.Context, args []string) int {
	return MainWithEnv(ctx, args, os.Getenv, os.Stderr)
}

// MainWithEnv is Main with the environment (POD_NAME, KUBECONFIG) read through getenv
// and the logs written to logs: several runners can run in one process.
func MainWithEnv(ctx context.Context, args []string, getenv func(string) string, logs io.Writer) int {
	fs := flag.NewFlagSet("chat-runner", flag.ContinueOnError)
	var gatewayName string
	opts := Options{PodName: getenv("POD_NAME")}
	fs.StringVar(&gatewayName, "gateway", "", "The GenesysGateway this runner serves, as namespace/name.")
	fs.StringVar(&opts.HTTPAddr, "http-bind-address", ":8080", "The address the escalation API binds to.")
	fs.BoolVar(&opts.EscalationTLS, gateway.EscalationTLSFlag, false, "Serve the escalation API over HTTPS with the certificate of the gateway's spec.runner.escalationTLS (read live).")
	fs.StringVar(&opts.HealthAddr, "health-probe-bind-address", ":8081", "The address the health probes bind to.")
	fs.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":9090", "The address the metrics endpoint binds to.")
	fs.DurationVar(&opts.LeaseDuration, "lease-duration", ownership.DefaultLeaseDuration, "How long a chat store Lease holds without renewal: a crashed runner's chats are adopted after about this long (keep it well below Genesys' idle timeout).")
	fs.DurationVar(&opts.RenewDeadline, "lease-renew-deadline", ownership.DefaultRenewDeadline, "How long a runner keeps trying to renew its chat store Leases before it stops touching their chats; below --lease-duration.")
	fs.DurationVar(&opts.RetryPeriod, "lease-retry-period", ownership.DefaultRetryPeriod, "How often a runner tries to take or renew chat store Leases.")
	fs.DurationVar(&opts.ProbeInterval, "genesys-probe-interval", chat.DefaultProbeIdle, "How long without an answer from Genesys before the runner probes GMS (a Refresh Chat of a chat that does not exist): an idle gateway probes this often, a busy one's calls answer for it.")
	fs.DurationVar(&opts.ProbeRetry, "genesys-probe-retry", chat.DefaultProbeRetry, "How often the runner probes GMS again while its last call or probe failed: after 3 failures in a row the gateway is not Ready, and the first answer makes it Ready again, within about this long.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts), zap.WriteTo(logs)).WithName("chat-runner")
	if opts.ProbeInterval <= 0 || opts.ProbeRetry <= 0 {
		log.Error(errors.New("--genesys-probe-interval and --genesys-probe-retry must be positive"), "Refused to start",
			"genesysProbeInterval", opts.ProbeInterval, "genesysProbeRetry", opts.ProbeRetry)
		return 2
	}
	ns, name, ok := strings.Cut(gatewayName, "/")
	if !ok || ns == "" || name == "" {
		log.Error(errors.New("--gateway must be namespace/name"), "Refused to start", "gateway", gatewayName)
		return 2
	}
	if opts.PodName == "" {
		opts.PodName = name + "-runner-0"
	}
	opts.Gateway = types.NamespacedName{Namespace: ns, Name: name}
	cfg, err := restConfig(getenv("KUBECONFIG"))
	if err != nil {
		log.Error(err, "Refused to start")
		return 1
	}
	opts.Config = cfg
	if err := Run(logr.NewContext(ctx, log), opts); err != nil {
		log.Error(err, "Stopped with an error")
		return 1
	}
	return 0
}

// restConfig reads a kubeconfig file, or the in-cluster configuration without one.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("reading kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the in-cluster configuration (set KUBECONFIG outside a cluster): %w", err)
	}
	return cfg, nil
}

// ordinal is the StatefulSet ordinal at the end of a pod name; 0 when there is none.
func ordinal(pod string) int {
	i := strings.LastIndex(pod, "-")
	n, err := strconv.Atoi(pod[i+1:])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// serve runs an HTTP server on addr until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, name, addr string, h http.Handler, tlsConfig *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for %s on %s: %w", name, addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", name, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	return nil
}
