package gms

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/valyala/fasthttp"
)

// Error is the failure of a Chat API call: its last attempt's HTTP status, envelope and
// errors, or the transport, timeout or decode error that prevented an answer. Its text
// holds no secure key, credential, header or form value: it is safe to show in a
// Kubernetes status.
type Error struct {
	// Op is the failed operation.
	Op Operation
	// HTTPStatus is the HTTP status of the last answer; 0 when there was no HTTP answer.
	HTTPStatus int
	// StatusCode is the envelope's statusCode; -1 when none was parsed.
	StatusCode int
	// ChatEnded is the envelope's chatEnded.
	ChatEnded bool
	// Errors are the envelope's errors.
	Errors []APIError
	// Attempts is the number of attempts the call made.
	Attempts int
	// Err is the transport, timeout, decode, authorization or cancellation error; nil when
	// the server answered with a readable failure.
	Err error
}

// Bounds of Error's text, so that a status stays small.
const (
	maxErrorsShown = 5
	maxAdviceRunes = 200
)

// Error describes the failure, e.g. "gms refresh: statusCode 2 (chat ended): 249 Media
// server was not able to execute request (1 attempt)".
func (e *Error) Error() string {
	var parts []string
	if e.HTTPStatus != 0 && !is2xx(e.HTTPStatus) {
		parts = append(parts, httpStatusText(e.HTTPStatus))
	}
	switch {
	case e.StatusCode != StatusOK && e.StatusCode != -1 && e.ChatEnded:
		parts = append(parts, fmt.Sprintf("statusCode %d (chat ended)", e.StatusCode))
	case e.StatusCode != StatusOK && e.StatusCode != -1:
		parts = append(parts, fmt.Sprintf("statusCode %d", e.StatusCode))
	case e.ChatEnded:
		parts = append(parts, "chat ended")
	}
	if len(e.Errors) > 0 {
		parts = append(parts, describeAPIErrors(e.Errors))
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	if len(parts) == 0 {
		parts = append(parts, "failed")
	}
	msg := "gms " + string(e.Op) + ": " + strings.Join(parts, ": ")
	switch {
	case e.Attempts == 1:
		msg += " (1 attempt)"
	case e.Attempts > 1:
		msg += " (" + strconv.Itoa(e.Attempts) + " attempts)"
	}
	return msg
}

// Unwrap returns the transport, timeout, decode, authorization or cancellation error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable tells whether another attempt may succeed: network errors, attempt timeouts,
// HTTP 5xx, 429 and 408, statusCode 1, and an undecodable answer (a 2xx or 5xx whose body
// is not the JSON envelope, which proxies and overloaded servers produce). Not retryable:
// statusCode 2 (whatever the HTTP status), any other HTTP 4xx, an authorization failure
// (unless it wraps ErrCredentialsUnavailable), a
// request that could not be built, a download over its bound, and the end of the
// caller's context.
func (e *Error) Retryable() bool {
	switch e.errKind() {
	case kindAuth:
		return errors.Is(e.Err, ErrCredentialsUnavailable)
	case kindCanceled, kindRequest, kindTooLarge:
		return false
	case kindTimeout, kindNetwork:
		return true
	}
	if e.StatusCode == StatusUnrecoverable {
		return false
	}
	if e.HTTPStatus != 0 && !is2xx(e.HTTPStatus) {
		return retryableHTTPStatus(e.HTTPStatus)
	}
	if e.errKind() == kindDecode {
		return true
	}
	return e.StatusCode == StatusRecoverable
}

// Code is a short label of the failure with few values, for metrics, the first that
// applies of: "canceled", "auth", "request", "too_large" (a download over its bound),
// "timeout", "network" (no answer);
// "http_<status>" for a failed HTTP status (e.g. "http_503", "http_401", whatever its
// body); "status_2"; "decode" (an undecodable 2xx); "status_1"; "status_other"; "error".
func (e *Error) Code() string {
	switch k := e.errKind(); k {
	case kindCanceled, kindAuth, kindRequest, kindTooLarge, kindTimeout, kindNetwork:
		return string(k)
	}
	if e.HTTPStatus != 0 && !is2xx(e.HTTPStatus) {
		if e.HTTPStatus < 100 || e.HTTPStatus > 599 {
			return "http_other"
		}
		return "http_" + strconv.Itoa(e.HTTPStatus)
	}
	if e.StatusCode == StatusUnrecoverable {
		return "status_2"
	}
	if e.errKind() == kindDecode {
		return string(kindDecode)
	}
	switch e.StatusCode {
	case StatusRecoverable:
		return "status_1"
	case StatusOK, -1:
		return "error"
	}
	return "status_other"
}

// errKind is the class of an Error's Err.
type errKind string

const (
	kindNone     errKind = ""
	kindCanceled errKind = "canceled"
	kindAuth     errKind = "auth"
	kindRequest  errKind = "request"
	kindTimeout  errKind = "timeout"
	kindNetwork  errKind = "network"
	kindDecode   errKind = "decode"
	kindTooLarge errKind = "too_large"
)

func (e *Error) errKind() errKind {
	var (
		stopped *stoppedError
		auth    *authError
		request *requestError
		decode  *decodeError
	)
	switch {
	case e.Err == nil:
		return kindNone
	case errors.As(e.Err, &stopped), errors.Is(e.Err, context.Canceled):
		return kindCanceled
	case errors.As(e.Err, &auth):
		return kindAuth
	case errors.As(e.Err, &request):
		return kindRequest
	case errors.As(e.Err, &decode):
		return kindDecode
	case errors.Is(e.Err, ErrFileTooLarge):
		return kindTooLarge
	case isTimeout(e.Err):
		return kindTimeout
	}
	return kindNetwork
}

// isTimeout tells whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// stoppedError is the end of the caller's context: the call stops, without retry.
type stoppedError struct{ err error }

func (e *stoppedError) Error() string { return "stopped: " + e.err.Error() }
func (e *stoppedError) Unwrap() error { return e.err }

// timeoutError is an attempt that got no complete answer within the attempt timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return "no answer within " + e.after.String() }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// decodeError is an answer that is not the JSON envelope expected. Its text never quotes
// the body.
type decodeError struct{ reason string }

func (e *decodeError) Error() string { return "undecodable answer: " + e.reason }

func is2xx(status int) bool { return status >= 200 && status < 300 }

// retryableHTTPStatus tells whether a non-2xx HTTP status is worth another attempt.
func retryableHTTPStatus(status int) bool {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return true
	case status >= 500 && status <= 599:
		return true
	}
	return false
}

func httpStatusText(status int) string {
	if text := http.StatusText(status); text != "" {
		return fmt.Sprintf("HTTP %d %s", status, text)
	}
	return fmt.Sprintf("HTTP %d", status)
}

// describeAPIErrors renders errors as "code advice; code advice", bounded in count and
// length, with control characters removed.
func describeAPIErrors(errs []APIError) string {
	shown := errs[:min(len(errs), maxErrorsShown)]
	texts := make([]string, 0, len(shown)+1)
	for _, e := range shown {
		text := strconv.Itoa(e.Code)
		if advice := cleanAdvice(e.Advice); advice != "" {
			text += " " + advice
		}
		texts = append(texts, text)
	}
	if n := len(errs) - len(shown); n > 0 {
		texts = append(texts, fmt.Sprintf("and %d more", n))
	}
	return strings.Join(texts, "; ")
}

// cleanAdvice makes a server's advice fit a single, bounded line.
func cleanAdvice(advice string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(advice) {
		if n == maxAdviceRunes {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// redactAPIErrors returns errs with every occurrence of secret in their advice replaced, in
// case a server echoes the secure key.
func redactAPIErrors(errs []APIError, secret string) []APIError {
	if secret == "" || len(errs) == 0 {
		return errs
	}
	out := make([]APIError, len(errs))
	for i, e := range errs {
		e.Advice = strings.ReplaceAll(e.Advice, secret, "[redacted]")
		out[i] = e
	}
	return out
}

// MaybeDelivered reports whether a failed call may have been carried out by GMS although
// its answer did not arrive: a timeout, a connection lost after the request was sent, a
// 5xx or 408 (a proxy may answer so after GMS did the work), statusCode 1 or an answer that
// does not decode. A non-idempotent call (Send) is not re-sent blindly then: the caller
// looks at the transcript first. A refused connection or name (a dial error), a 429 and a
// credential not yet available surely did not reach GMS.
func (e *Error) MaybeDelivered() bool {
	if !e.Retryable() {
		return false
	}
	var op *net.OpError
	switch {
	case e.errKind() == kindAuth:
		return false
	case errors.As(e.Err, &op) && op.Op == "dial":
		return false
	case e.HTTPStatus == http.StatusTooManyRequests:
		return false
	}
	return true
}

// unreadableError is an answer that could not be read as HTTP. The HTTP stacks' own errors
// for it quote the offending line, which may carry the session's secureKey or a cookie:
// this one does not.
type unreadableError struct{}

func (*unreadableError) Error() string { return "the answer is not readable HTTP" }

// withoutQuotes returns a transport error as it is when its kind is known to say nothing of
// the answer's content (a network or TLS failure, a connection closed), and an
// unreadableError otherwise: the errors of a malformed answer quote it, on either HTTP
// stack.
func withoutQuotes(err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err // the URL net/http names has no password
	}
	var (
		op        *net.OpError
		dns       *net.DNSError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		record    tls.RecordHeaderError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		errno     syscall.Errno
	)
	switch {
	case errors.As(inner, &op), errors.As(inner, &dns), errors.As(inner, &verify),
		errors.As(inner, &alert), errors.As(inner, &record), errors.As(inner, &authority),
		errors.As(inner, &hostname), errors.As(inner, &invalid), errors.As(inner, &errno),
		errors.Is(inner, io.EOF), errors.Is(inner, io.ErrUnexpectedEOF),
		errors.Is(inner, context.DeadlineExceeded), errors.Is(inner, context.Canceled),
		errors.Is(inner, fasthttp.ErrConnectionClosed), errors.Is(inner, fasthttp.ErrTLSHandshakeTimeout),
		errors.Is(inner, fasthttp.ErrDialTimeout), isTimeout(inner):
		return err
	}
	return &unreadableError{}
}
