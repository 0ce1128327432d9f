package entra

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// DefaultBackoff spaces the Keeper's attempts after a failure: 1 s, 2 s, 4 s, ... up to one
// minute, with jitter.
var DefaultBackoff = wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.2, Steps: math.MaxInt32, Cap: time.Minute}

// Renewal timing. A token of lifetime L is renewed min(L/2, renewBefore) before it expires
// (or earlier, when the authority says so with refresh_in). renewBefore is below MSAL's
// five-minute margin, so that MSAL does not answer a renewal from its cache. A token is
// used until min(L/10, useMargin) before it expires, to allow for clock skew and transit.
const (
	renewBefore   = 4 * time.Minute
	useMargin     = 30 * time.Second
	minRenewAfter = 500 * time.Millisecond
)

// KeeperOptions tune a Keeper. The zero value is fine.
type KeeperOptions struct {
	// Clock schedules renewals and retries; nil means the real clock.
	Clock clock.Clock
	// Backoff spaces retries after failures; the zero value means DefaultBackoff. It
	// restarts after a success and after Source.Update.
	Backoff wait.Backoff
	// OnHealthChange, if set, is called from Run's goroutine with Healthy's new answer
	// each time ok changes (and after the first attempt). It must not block.
	OnHealthChange func(ok bool, err error)
}

// Keeper keeps a token of a Source ready: Run fetches one at once, renews it before it
// expires, and retries with back-off while the authority cannot be reached or refuses
// (meanwhile a token that has not expired is still used). Authorizer and Token wait for a
// token, within their context, instead of failing at once. Healthy says whether the last
// attempt succeeded, for the gateway's status. Safe for concurrent use.
type Keeper struct {
	src     *Source
	clock   clock.Clock
	backoff wait.Backoff
	onHC    func(ok bool, err error)

	mu      sync.Mutex
	tok     kept
	ready   chan struct{} // closed, and replaced, when tok changes
	ok      bool
	lastErr *TokenError
	since   time.Time
	tried   bool
}

// kept is a token and the times that matter, in the Keeper's clock.
type kept struct {
	token       string
	identity    string // Config.identity of the client that obtained it
	expiresAt   time.Time
	usableUntil time.Time
}

// NewKeeper returns a Keeper of src's tokens. Call Run to start it.
func NewKeeper(src *Source, opts KeeperOptions) *Keeper {
	k := &Keeper{src: src, clock: opts.Clock, backoff: opts.Backoff, onHC: opts.OnHealthChange, ready: make(chan struct{})}
	if k.clock == nil {
		k.clock = clock.RealClock{}
	}
	if k.backoff == (wait.Backoff{}) {
		k.backoff = DefaultBackoff
	}
	k.since = k.clock.Now()
	return k
}

// Run obtains and renews tokens until ctx is done. A Source.Update makes it fetch a token
// at once with the new configuration or certificate.
func (k *Keeper) Run(ctx context.Context) {
	bo := k.backoff
	for {
		_, changed := k.src.current()
		r, err := k.src.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		var next time.Duration
		if err == nil {
			next = k.succeeded(r)
			bo = k.backoff
		} else {
			var te *TokenError
			if !errors.As(err, &te) {
				te = &TokenError{ClientID: r.client.cfg.ClientID, Authority: redactURL(r.client.cfg.Authority), Cause: sanitize(err.Error())}
			}
			k.failed(te)
			next = bo.Step()
		}
		t := k.clock.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-changed:
			t.Stop()
			bo = k.backoff
		}
	}
}

// succeeded keeps r's token and returns how long to wait before renewing it.
func (k *Keeper) succeeded(r result) time.Duration {
	now := k.clock.Now()
	// MSAL's times are wall-clock times: turn them into durations, then into k.clock's.
	lifetime := time.Until(r.expiresOn)
	expiresAt := now.Add(lifetime)
	renewAt := expiresAt.Add(-min(lifetime/2, renewBefore))
	if !r.refreshOn.IsZero() {
		if ro := now.Add(time.Until(r.refreshOn)); ro.After(now) && ro.Before(renewAt) {
			renewAt = ro
		}
	}
	tok := kept{
		token:       r.token,
		identity:    r.client.cfg.identity(),
		expiresAt:   expiresAt,
		usableUntil: expiresAt.Add(-min(lifetime/10, useMargin)),
	}

	k.mu.Lock()
	k.tok = tok
	close(k.ready)
	k.ready = make(chan struct{})
	changed := !k.ok || !k.tried
	if !k.ok {
		k.since = now
	}
	k.ok, k.lastErr, k.tried = true, nil, true
	k.mu.Unlock()
	if changed && k.onHC != nil {
		k.onHC(true, nil)
	}
	return max(renewAt.Sub(now), minRenewAfter)
}

// failed records a failed attempt.
func (k *Keeper) failed(te *TokenError) {
	now := k.clock.Now()
	k.mu.Lock()
	changed := k.ok || !k.tried
	if k.ok || !k.tried {
		k.since = now
	}
	k.ok, k.lastErr, k.tried = false, te, true
	k.mu.Unlock()
	if changed && k.onHC != nil {
		k.onHC(false, te)
	}
}

// Healthy reports whether the last attempt to obtain a token succeeded, since when that
// has been so, and its error when it did not (a *TokenError). Before the first attempt
// ends it returns false, the Keeper's creation time and nil. A failure while a token is
// still valid is reported as well: the token will expire.
func (k *Keeper) Healthy() (ok bool, since time.Time, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastErr != nil {
		return k.ok, k.since, k.lastErr
	}
	return k.ok, k.since, nil
}

// Token returns a valid token, waiting for one while ctx allows when there is none (not
// obtained yet, expired, or obtained for a configuration that Update replaced). Run must
// be running. Its error is a *TokenError, which says why the Keeper has no token (the last
// failure) and wraps gms.ErrCredentialsUnavailable and ctx's error.
func (k *Keeper) Token(ctx context.Context) (string, error) {
	start := k.clock.Now()
	for {
		cur, _ := k.src.current()
		identity := cur.cfg.identity()
		k.mu.Lock()
		tok, ready, lastErr := k.tok, k.ready, k.lastErr
		k.mu.Unlock()
		if tok.token != "" && tok.identity == identity && k.clock.Now().Before(tok.usableUntil) {
			return tok.token, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			te := &TokenError{ClientID: cur.cfg.ClientID, Authority: redactURL(cur.cfg.Authority), ctxErr: ctx.Err()}
			waited := k.clock.Since(start).Round(time.Millisecond)
			if lastErr != nil {
				te.Cause, te.HTTPStatus, te.Code, te.Timeout = lastErr.Cause, lastErr.HTTPStatus, lastErr.Code, lastErr.Timeout
				te.Cause += fmt.Sprintf(" (no token after waiting %s; retrying with back-off)", waited)
			} else {
				te.Cause = fmt.Sprintf("no token yet after waiting %s", waited)
			}
			return "", te
		}
	}
}

// Authorizer returns an Authorizer that sets "Authorization: Bearer <token>", waiting for
// a token within the request's context (see Token).
func (k *Keeper) Authorizer() gms.Authorizer {
	return gms.AuthorizerFunc(func(ctx context.Context, req *http.Request) error {
		token, err := k.Token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}
