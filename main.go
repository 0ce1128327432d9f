// Command manager is the genesys-gateway-operator. Without a subcommand it runs the
// operator; "chat-runner" runs a chat runner, the process of the runner pods; "gms-simulator"
// runs a simulated GMS Chat API for demos.
package main

import (
	"context"
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
	"github.com/gatewayops/genesys-gateway-operator/controllers"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

func main() {
	ctx := ctrl.SetupSignalHandler()
	if len(os.Args) > 1 && os.Args[1] == gateway.RunnerSubcommand {
		os.Exit(chatrunner.Main(ctx, os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == gmssim.Subcommand {
		os.Exit(gmssim.Main(ctx, os.Args[2:]))
	}
	os.Exit(runOperator(ctx, os.Args[1:]))
}

func runOperator(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var metricsAddr, probeAddr, namespaces string
	var leaderElect, metricsSecure bool
	r := &controllers.GatewayReconciler{}
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "The address the metrics endpoint binds to; 0 disables it.")
	fs.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to authenticated and authorized scrapers only (TokenReview and SubjectAccessReview of GET /metrics); false serves plain HTTP to anyone.")
	fs.StringVar(&namespaces, "watch-namespaces", "", "Serve only the gateways of these namespaces (comma-separated); empty: every namespace.")
	fs.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health probes bind to.")
	fs.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one replica of the operator is active.")
	fs.StringVar(&r.GatewayService, "gateway-service", "", "Serve only gateways whose spec.gatewayService is this (empty: those that name none).")
	fs.StringVar(&r.RunnerImage, "runner-image", os.Getenv("RUNNER_IMAGE"), "Runner image of gateways that set none; defaults to $RUNNER_IMAGE, the operator's own image.")
	allowedImages := fs.String("allowed-runner-images", "", "Repository prefixes (comma-separated, e.g. registry.example.com/team) that a gateway's spec.runner.image must lie under; \"*\" allows any image; empty: the repository of --runner-image.")
	fs.IntVar(&r.MaxConcurrentReconciles, "concurrent", 4, "How many gateways are reconciled at once.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	images, err := controllers.ParseRunnerImagePolicy(*allowedImages, r.RunnerImage)
	if err != nil {
		log.Error(err, "Refused --allowed-runner-images")
		return 2
	}
	r.RunnerImages = images

	leaseID := "genesys-gateway-operator.gatewayops.io"
	if r.GatewayService != "" {
		leaseID = r.GatewayService + "." + leaseID
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsOptions(metricsAddr, metricsSecure),
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       leaseID,
		Cache:                  watchNamespaces(controllers.CacheOptions(), namespaces),
	})
	if err != nil {
		log.Error(err, "Failed to create the manager")
		return 1
	}
	r.Client = mgr.GetClient()
	r.APIReader = mgr.GetAPIReader()
	r.Recorder = mgr.GetEventRecorder("genesys-gateway-operator")
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		log.Error(err, "Failed to set up the GenesysGateway controller")
		return 1
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the health check")
		return 1
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the ready check")
		return 1
	}
	log.Info("Starting the operator", "gatewayService", r.GatewayService, "runnerImage", r.RunnerImage,
		"allowedRunnerImages", r.RunnerImages.String(), "watchNamespaces", namespaces, "metricsSecure", metricsSecure)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Operator stopped with an error")
		return 1
	}
	return 0
}
