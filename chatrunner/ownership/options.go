package ownership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// Defaults of the lease timing, client-go's usual values: the renew deadline is shorter
// than the lease duration so that a holder that cannot renew stops before anyone else
// may acquire.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Options configure a Manager.
type Options struct {
	// Client talks to the API server as the runner; it needs get/list/watch/update/patch
	// on the chat store Leases (list/watch with a metadata.name field selector).
	Client kubernetes.Interface
	// Gateway gives the Lease names, their namespace and the runner pod names.
	Gateway *chatv1alpha1.GenesysGateway
	// Self is this runner's ordinal; Identity its pod name, gateway.RunnerPodName(gw, Self),
	// which is what a hand-back annotation names.
	Self     int
	Identity string
	// Replicas returns the current runner replica count (spec.runner.replicas).
	Replicas func() int
	// Ordinals returns the ordinals that have a chat store (status.chatStores).
	Ordinals func() []int

	// LeaseDuration, RenewDeadline and RetryPeriod are the client-go leader election
	// timings; zero means the default.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ReleaseTimeout bounds OnRelease; zero means RenewDeadline.
	ReleaseTimeout time.Duration

	// OnAcquired starts owning an ordinal: load and resume its chats. Its ctx ends when
	// the ownership ends. It may return at once or block until ctx ends; a graceful
	// release waits (up to ReleaseTimeout) for it to return before calling OnRelease, so
	// the final write does not race with the chats' own writes.
	OnAcquired func(ctx context.Context, ordinal int)
	// OnRelease writes the final records of an ordinal on a graceful release. It is
	// called after the ownership ctx has ended and OnAcquired has returned, and BEFORE
	// the Lease is released, so the successor finds the records complete.
	OnRelease func(ctx context.Context, ordinal int)
	// OnLost is called when the Lease of an ordinal was lost without a release (renewals
	// failed for the renew deadline, e.g. a partition): stop touching its chats at once,
	// a peer may own them after the lease duration. The ownership ctx has ended already;
	// it may be called while OnRelease runs, if the Lease is lost during the final write.
	OnLost func(ordinal int)

	// Log receives the manager's and client-go's leader election logs.
	Log logr.Logger
	// Clock times the manager's own observations (expiry of observed Leases, renewal
	// watchdog); client-go's elector always uses the real clock. Default: real clock.
	Clock clock.WithTicker
}

// withDefaults returns the options with defaults filled in, or why they are unusable.
func (o Options) withDefaults() (Options, error) {
	if o.Client == nil || o.Gateway == nil {
		return o, errors.New("ownership: Client and Gateway are required")
	}
	if o.Identity == "" || o.Self < 0 {
		return o, fmt.Errorf("ownership: invalid identity %q or ordinal %d", o.Identity, o.Self)
	}
	if want := gateway.RunnerPodName(o.Gateway, o.Self); o.Identity != want {
		// A hand-back request names the pod, and a holder gives an ordinal back only to
		// gateway.RunnerPodName of that ordinal.
		return o, fmt.Errorf("ownership: identity %q is not the runner pod name %q", o.Identity, want)
	}
	if o.Replicas == nil || o.Ordinals == nil {
		return o, errors.New("ownership: Replicas and Ordinals are required")
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.ReleaseTimeout == 0 {
		o.ReleaseTimeout = o.RenewDeadline
	}
	if o.LeaseDuration < time.Second || o.LeaseDuration <= o.RenewDeadline ||
		o.RenewDeadline <= time.Duration(1.2*float64(o.RetryPeriod)) {
		return o, fmt.Errorf("ownership: need leaseDuration (%v) >= 1s and > renewDeadline (%v) > 1.2*retryPeriod (%v)",
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
	if o.OnAcquired == nil {
		o.OnAcquired = func(context.Context, int) {}
	}
	if o.OnRelease == nil {
		o.OnRelease = func(context.Context, int) {}
	}
	if o.OnLost == nil {
		o.OnLost = func(int) {}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o, nil
}
