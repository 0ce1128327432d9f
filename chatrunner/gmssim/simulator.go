package gmssim

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// DefaultContextPath is the Chat API's context path when Options.ContextPath is empty.
const DefaultContextPath = "/genesys/2/chat/"

// Subcommand is the operator binary's subcommand that runs Main.
const Subcommand = "gms-simulator"

// controlPrefix is the path prefix of the control API.
const controlPrefix = "/sim/"

// Options configure a Simulator.
type Options struct {
	// ContextPath is the Chat API's base path; default DefaultContextPath. A missing leading or
	// trailing slash is added.
	ContextPath string
	// ServiceName is the only service name served; "" accepts any.
	ServiceName string
	// Overrides rename the path after the chat id per operation (e.g. startTyping ->
	// "typingStart"); the default path is then not served for that operation (404).
	Overrides map[gms.Operation]string
	// BasicAuth, when set, requires these HTTP Basic credentials on the Chat API. Missing or
	// wrong credentials answer 401 with WWW-Authenticate and a JSON error body.
	BasicAuth *Credentials
	// BearerToken, when set, requires "Authorization: Bearer <token>" on the Chat API with a
	// token it accepts, as a proxy in front of GMS checks an Entra ID token. Otherwise 401.
	BearerToken func(token string) bool
	// IdleTimeout, when positive, ends a chat whose client made no request for longer, with an
	// IdleClose event from External.
	IdleTimeout time.Duration
	// InactivityAlert, when positive, is Chat Server's inactivity-control timeout-alert: a
	// chat without activity (a join, a leave, a message of anyone) for this long gets an
	// IdleAlert from External. Genesys' default is 255s; 0 disables the inactivity control.
	InactivityAlert time.Duration
	// InactivityClose is inactivity-control's timeout-close: the IdleAlert followed by this
	// long without activity closes the chat with an IdleClose (Genesys' default 45s). 0
	// closes at once after the alert.
	InactivityClose time.Duration
	// Clock gives utcTime, the idle timeout and request times; default clock.RealClock{}.
	Clock clock.PassiveClock
	// OmitNextPositionOnRequest makes Request Chat answer without nextPosition, like the
	// docs' example.
	OmitNextPositionOnRequest bool
	// FileLimits are the file limits file/limits announces and upload enforces;
	// DefaultFileLimits() when nil.
	FileLimits *FileLimits
	// MaxFileStore bounds the bytes of every file the simulator holds (uploads and agents'
	// files of all chats); DefaultMaxFileStore when 0. An upload beyond it is refused.
	MaxFileStore int64
	// MaxRecordedRequests, when positive, keeps only about the latest that many recorded
	// requests (at most twice as many in memory), for long benchmarks; 0 keeps all.
	MaxRecordedRequests int
}

// Credentials are HTTP Basic credentials. Their String and GoString never show the password.
type Credentials struct {
	// Username is the Basic user name.
	Username string
	// Password is the Basic password: a secret.
	Password string
}

// String describes the credentials without the password.
func (c Credentials) String() string { return c.Username + ":<redacted>" }

// GoString describes the credentials without the password.
func (c Credentials) GoString() string {
	return "gmssim.Credentials{Username:" + c.Username + ", Password:<redacted>}"
}

// Simulator is a simulated GMS serving the Chat API v2 under its context path and the control
// API under /sim/. It is safe for concurrent use.
type Simulator struct {
	opts        Options
	contextPath string
	clock       clock.PassiveClock
	routes      routes
	control     http.Handler
	auth        atomic.Pointer[[]Credentials]

	mu       sync.Mutex
	chats    map[string]*chat
	order    []*chat
	aliasSeq int
	faults   []*faultEntry
	faultSeq int
	requests []Request
	// fileSeq numbers stored files; storedBytes are the bytes of those held.
	fileSeq     int
	storedBytes int64
}

// New returns a simulator with opts.
func New(opts Options) *Simulator {
	s := &Simulator{
		opts:        opts,
		contextPath: normalizeContextPath(opts.ContextPath),
		clock:       opts.Clock,
		routes:      buildRoutes(opts.Overrides),
		chats:       map[string]*chat{},
		aliasSeq:    initialAlias,
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	s.SetBasicAuth(opts.BasicAuth)
	s.control = s.controlHandler()
	return s
}

// SetBasicAuth replaces the Chat API's credentials; any of them is accepted, as a proxy
// does while a password rotates. None (or nil) turns authentication off. The simulator
// keeps copies.
func (s *Simulator) SetBasicAuth(creds ...*Credentials) {
	var accepted []Credentials
	for _, c := range creds {
		if c != nil {
			accepted = append(accepted, *c)
		}
	}
	if len(accepted) == 0 {
		s.auth.Store(nil)
		return
	}
	s.auth.Store(&accepted)
}

// ServeHTTP serves the control API under /sim/ and the Chat API under the context path.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, controlPrefix):
		s.control.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, s.contextPath):
		s.serveChatAPI(w, r)
	default:
		writeJSON(w, http.StatusNotFound, errorResponse(gms.StatusUnrecoverable, http.StatusNotFound, "no such path"))
	}
}

func normalizeContextPath(p string) string {
	if p == "" {
		return DefaultContextPath
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}
