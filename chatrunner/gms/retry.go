package gms

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// do calls op with form, retrying per the retry policy current at its start. With a
// session, every attempt adds the session triple with the latest alias, and every parsed
// answer is observed (its alias adopted). On failure it returns the last attempt's parsed
// response, if any, and an *Error.
func (c *Client) do(ctx context.Context, op Operation, s *Session, form url.Values) (*Response, error) {
	resp, _, err := c.doCall(ctx, op, s, form)
	return resp, err
}

// callInfo tells how a successful call went.
type callInfo struct {
	attempts   int
	httpStatus int
}

// doCall is do, that also tells how a successful call went.
func (c *Client) doCall(ctx context.Context, op Operation, s *Session, form url.Values) (*Response, callInfo, error) {
	cfg := c.cfg.Load()
	chatID := ""
	if s != nil {
		chatID = s.ChatID
	}
	if op == OpRefresh && s != nil {
		if e := s.refreshURL.Load(); e != nil && e.cfg == cfg && e.chatID == chatID {
			return c.doCallAt(ctx, cfg, op, e.url, s, form)
		}
	}
	endpoint, err := cfg.endpoint(op, chatID)
	if err != nil {
		return nil, callInfo{}, err
	}
	if op == OpRefresh && s != nil {
		s.refreshURL.Store(&sessionEndpoint{cfg: cfg, chatID: chatID, url: endpoint})
	}
	return c.doCallAt(ctx, cfg, op, endpoint, s, form)
}

// doCallAt is doCall on endpoint, with cfg.
func (c *Client) doCallAt(ctx context.Context, cfg *config, op Operation, endpoint string, s *Session, form url.Values) (*Response, callInfo, error) {
	a, attempts := c.withRetries(ctx, cfg, op, s, func() (attemptResult, bool) {
		var body string
		if s != nil {
			body = encodeSessionForm(s, form) // the latest alias on every attempt
		} else {
			body = form.Encode()
		}
		a := c.attempt(ctx, cfg, op, endpoint, body)
		// A Send is re-sent only when it surely did not reach GMS: otherwise a lost answer
		// would send the user's message twice. The caller looks at the transcript instead.
		return a, a.err == nil || op != OpSend || !a.err.MaybeDelivered()
	})
	if a.err != nil {
		return a.resp, callInfo{}, a.err
	}
	return a.resp, callInfo{attempts: attempts, httpStatus: a.httpStatus}, nil
}

// withRetries makes the attempts of one call of op per cfg's retry policy: try makes one
// and says whether it may be made again should it fail. Each failed attempt's error gets
// its number and loses the session's secureKey from GMS' advice; every attempt is observed,
// and its answer observed by the session s (when not nil). A failure is retried when it is
// retryable, try allows it and attempts remain, after the policy's wait or the answer's
// Retry-After, whichever is longer (at most MaxRetryWait). It returns the last attempt's
// result and its number; the end of ctx during a wait ends the call as stopped.
func (c *Client) withRetries(ctx context.Context, cfg *config, op Operation, s *Session, try func() (attemptResult, bool)) (attemptResult, int) {
	secureKey := ""
	if s != nil {
		secureKey = s.SecureKey()
	}
	maxAttempts := cfg.settings.Retry.attempts()
	backoff := newBackoff(cfg.settings.Retry)
	for attempt := 1; ; attempt++ {
		start := c.clock.Now()
		a, again := try()
		if a.err != nil {
			a.err.Attempts = attempt
			a.err.Errors = redactAPIErrors(a.err.Errors, secureKey)
		}
		if c.observer != nil {
			var err error // never a nil *Error in an interface
			if a.err != nil {
				err = a.err
			}
			c.observer.Called(op, c.clock.Since(start), err)
		}
		if s != nil && a.resp != nil {
			s.Observe(a.resp)
		}
		if a.err == nil || !again || attempt >= maxAttempts || !a.err.Retryable() {
			return a, attempt
		}
		d := min(max(backoff.Step(), a.retryAfter), MaxRetryWait)
		if c.observer != nil {
			c.observer.Retried(op)
		}
		if err := c.sleep(ctx, d); err != nil {
			stopped := *a.err
			stopped.Err = &stoppedError{err: err}
			a.err = &stopped
			return a, attempt
		}
	}
}

// retryJitter spreads each wait over [w, w*(1+retryJitter)], so that the chats a Genesys
// outage hit together do not retry in lock-step and hit it together again.
const retryJitter = 0.2

// newBackoff returns the waits of p: InitialDelay, then each wait Multiplier times the
// previous one, each stretched by up to retryJitter at random. The unjittered waits stop
// growing at MaxRetryWait/(1+retryJitter), so that a jittered wait stays within
// MaxRetryWait and waits at the cap are spread too.
func newBackoff(p RetryPolicy) *wait.Backoff {
	factor := p.Multiplier
	if factor < 1 {
		factor = 1
	}
	return &wait.Backoff{
		Duration: min(max(p.InitialDelay, 0), jitterCap),
		Factor:   factor,
		Jitter:   retryJitter,
		Steps:    p.attempts(),
		Cap:      jitterCap,
	}
}

// jitterCap is the greatest unjittered wait: jittered, it stays within MaxRetryWait.
const jitterCap = time.Duration(float64(MaxRetryWait) / (1 + retryJitter))

// sleep waits d on the client's clock, or until ctx ends and returns its error.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// retryAfter reads the Retry-After value v of an answer of httpStatus: seconds or an HTTP
// date, heeded only on a 429 or 503.
func (c *Client) retryAfter(httpStatus int, v string) time.Duration {
	if httpStatus != http.StatusTooManyRequests && httpStatus != http.StatusServiceUnavailable {
		return 0
	}
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		switch {
		case secs <= 0:
			return 0
		case secs >= int(MaxRetryWait/time.Second):
			return MaxRetryWait
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(c.clock.Now()), 0), MaxRetryWait)
	}
	return 0
}
