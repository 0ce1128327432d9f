package gmssim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Main runs the gms-simulator subcommand with its arguments until ctx ends, and returns the
// exit code: 0 after a graceful stop, 1 when serving failed, 2 for bad arguments.
func Main(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	var addr, user, passwordFile string
	opts := Options{}
	fs.StringVar(&addr, "addr", "127.0.0.1:8090", "The address the simulator listens on.")
	fs.StringVar(&opts.ContextPath, "context-path", DefaultContextPath, "The Chat API's context path.")
	fs.StringVar(&opts.ServiceName, "service-name", "", "The only service name served; empty accepts any.")
	fs.StringVar(&user, "basic-auth-user", "", "Require HTTP Basic authentication with this user on the Chat API.")
	fs.StringVar(&passwordFile, "basic-auth-password-file", "", "The file holding the Basic authentication password.")
	fs.DurationVar(&opts.IdleTimeout, "idle-timeout", 0, "End chats whose client made no request for longer; 0 never.")
	fs.DurationVar(&opts.InactivityAlert, "inactivity-alert", 0, "Send IdleAlert to chats without activity for this long (Chat Server's timeout-alert, 255s there); 0 never.")
	fs.DurationVar(&opts.InactivityClose, "inactivity-close", 45*time.Second, "Close chats this long after their IdleAlert without activity (Chat Server's timeout-close).")
	fs.BoolVar(&opts.OmitNextPositionOnRequest, "omit-next-position-on-request", false, "Answer Request Chat without nextPosition.")
	fs.IntVar(&opts.MaxRecordedRequests, "max-recorded-requests", 10000, "How many recent requests to keep for /sim/requests; 0 all.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts)).WithName(Subcommand)
	if (user == "") != (passwordFile == "") {
		log.Error(errors.New("--basic-auth-user and --basic-auth-password-file go together"), "Refused to start")
		return 2
	}
	if user != "" {
		password, err := readPassword(passwordFile)
		if err != nil {
			log.Error(err, "Refused to start")
			return 2
		}
		opts.BasicAuth = &Credentials{Username: user, Password: password}
	}
	if err := Serve(logr.NewContext(ctx, log), addr, New(opts)); err != nil {
		log.Error(err, "Stopped with an error")
		return 1
	}
	return 0
}

// readPassword reads a password file, without its trailing line break.
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the basic auth password file: %w", err)
	}
	password := strings.TrimRight(string(b), "\r\n")
	if password == "" {
		return "", fmt.Errorf("the basic auth password file %s is empty", path)
	}
	return password, nil
}

// Serve serves s on addr until ctx ends, then shuts down gracefully. It logs with the logger
// of ctx.
func Serve(ctx context.Context, addr string, s *Simulator) error {
	log := logr.FromContextOrDiscard(ctx)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: logRequests(log, s), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("Started GMS simulator", "address", ln.Addr().String(), "contextPath", s.contextPath,
		"serviceName", s.opts.ServiceName, "basicAuth", s.auth.Load() != nil, "idleTimeout", s.opts.IdleTimeout.String(),
		"inactivityAlert", s.opts.InactivityAlert.String(), "inactivityClose", s.opts.InactivityClose.String())
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
		return fmt.Errorf("stopping: %w", err)
	}
	log.Info("Stopped GMS simulator")
	return nil
}

// logRequests logs each request's method and path (never its body) at V(1).
func logRequests(log logr.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.V(1).Info("Request", "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}
