package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps the wait a receiver may ask for: a receiver asking for an hour does
// not hold a chat's deliveries for an hour; the back-off goes on from the cap.
const maxRetryAfter = 5 * time.Minute

// retryAfterError is a retryable answer whose Retry-After asked for a wait.
type retryAfterError struct {
	err  error
	wait time.Duration
}

func (e *retryAfterError) Error() string {
	return e.err.Error() + " (Retry-After " + e.wait.String() + ")"
}
func (e *retryAfterError) Unwrap() error { return e.err }

// retryAfterOf is the wait an attempt's error asked for, 0 for none.
func retryAfterOf(err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.wait
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date, capped at
// maxRetryAfter; false when absent or unreadable.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}
