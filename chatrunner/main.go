package chatrunner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Options are the runner's command-line options.
type Options struct {
	// Gateway is the namespace/name of the GenesysGateway the runner serves.
	Gateway types.NamespacedName
	// PodName is the runner's pod name (downward API, POD_NAME): it keys the runner's
	// status entry.
	PodName string
	// HTTPAddr serves the escalation API.
	HTTPAddr string
	// HealthAddr serves /healthz and /readyz.
	HealthAddr string
	// MetricsAddr serves /metrics.
	MetricsAddr string
}

// Main runs the chat-runner subcommand with its arguments and returns the exit code.
func Main(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("chat-runner", flag.ContinueOnError)
	var gateway string
	opts := Options{PodName: os.Getenv("POD_NAME")}
	fs.StringVar(&gateway, "gateway", "", "The GenesysGateway this runner serves, as namespace/name.")
	fs.StringVar(&opts.HTTPAddr, "http-bind-address", ":8080", "The address the escalation API binds to.")
	fs.StringVar(&opts.HealthAddr, "health-probe-bind-address", ":8081", "The address the health probes bind to.")
	fs.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":9090", "The address the metrics endpoint binds to.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts)).WithName("chat-runner")
	ns, name, ok := strings.Cut(gateway, "/")
	if !ok || ns == "" || name == "" {
		log.Error(errors.New("--gateway must be namespace/name"), "Refused to start", "gateway", gateway)
		return 2
	}
	opts.Gateway = types.NamespacedName{Namespace: ns, Name: name}
	if err := Run(logr.NewContext(ctx, log), opts); err != nil {
		log.Error(err, "Stopped with an error")
		return 1
	}
	return 0
}

// Run serves the runner until ctx ends.
func Run(ctx context.Context, opts Options) error {
	log := logr.FromContextOrDiscard(ctx)
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	srv := &http.Server{Addr: opts.HealthAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("Started chat runner", "gateway", opts.Gateway, "pod", opts.PodName, "health", opts.HealthAddr)
	select {
	case err := <-errc:
		return fmt.Errorf("serving health probes: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stopping health probes: %w", err)
	}
	log.Info("Stopped chat runner")
	return nil
}
