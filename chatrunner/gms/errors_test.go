package gms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"field failure", &Error{
			Op: OpRefresh, HTTPStatus: 200, StatusCode: 2, ChatEnded: true, Attempts: 1,
			Errors: []APIError{{Code: 249, Advice: "Media server was not able to execute request"}},
		}, "gms refresh: statusCode 2 (chat ended): 249 Media server was not able to execute request (1 attempt)"},
		{"HTTP status with envelope", &Error{
			Op: OpSend, HTTPStatus: 503, StatusCode: 1, Attempts: 3,
			Errors: []APIError{{Code: 102, Advice: "retry later"}, {Code: 7}},
		}, "gms send: HTTP 503 Service Unavailable: statusCode 1: 102 retry later; 7 (3 attempts)"},
		{"HTTP status without envelope", &Error{Op: OpDisconnect, HTTPStatus: 401, StatusCode: -1, Attempts: 1},
			"gms disconnect: HTTP 401 Unauthorized (1 attempt)"},
		{"timeout", &Error{Op: OpRefresh, StatusCode: -1, Attempts: 2, Err: &timeoutError{after: 50 * time.Millisecond}},
			"gms refresh: no answer within 50ms (2 attempts)"},
		{"chat ended on success status", &Error{Op: OpRefresh, StatusCode: 0, ChatEnded: true}, "gms refresh: chat ended"},
		{"nothing known", &Error{Op: OpRefresh, StatusCode: -1}, "gms refresh: failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(tc.err.Error()).To(Equal(tc.want))
		})
	}
}

func TestErrorTextIsBounded(t *testing.T) {
	g := NewWithT(t)
	errs := make([]APIError, 8)
	for i := range errs {
		errs[i] = APIError{Code: i, Advice: strings.Repeat("x", 500) + "\nnext line"}
	}
	text := (&Error{Op: OpSend, StatusCode: 2, Errors: errs}).Error()
	g.Expect(text).NotTo(ContainSubstring("\n"))
	g.Expect(text).To(ContainSubstring("and 3 more"))
	g.Expect(len(text)).To(BeNumerically("<", 5*(maxAdviceRunes+16)+100))
}

func TestRedactAPIErrors(t *testing.T) {
	g := NewWithT(t)
	in := []APIError{{Code: 8210, Advice: "bad secure key 4ee15d7e1c343c8e"}}
	out := redactAPIErrors(in, "4ee15d7e1c343c8e")
	g.Expect(out[0].Advice).To(Equal("bad secure key [redacted]"))
	g.Expect(in[0].Advice).To(ContainSubstring("4ee15d7e1c343c8e"), "the answer itself is not modified")
}

func TestErrorClassification(t *testing.T) {
	netErr := &url.Error{Op: "Post", URL: "http://gms.example/x", Err: syscall.ECONNRESET}
	dialTimeout := &url.Error{Op: "Post", URL: "http://gms.example/x", Err: &net.OpError{Op: "dial", Err: timeoutErr{}}}
	for _, tc := range []struct {
		name      string
		err       *Error
		retryable bool
		code      string
	}{
		{"statusCode 1", &Error{HTTPStatus: 200, StatusCode: 1}, true, "status_1"},
		{"statusCode 2", &Error{HTTPStatus: 200, StatusCode: 2, ChatEnded: true}, false, "status_2"},
		{"unknown statusCode", &Error{HTTPStatus: 200, StatusCode: 3}, false, "status_other"},
		{"HTTP 503", &Error{HTTPStatus: 503, StatusCode: -1}, true, "http_503"},
		{"HTTP 500 with statusCode 1", &Error{HTTPStatus: 500, StatusCode: 1}, true, "http_500"},
		{"HTTP 500 with statusCode 2", &Error{HTTPStatus: 500, StatusCode: 2}, false, "http_500"},
		{"HTTP 429", &Error{HTTPStatus: 429, StatusCode: -1}, true, "http_429"},
		{"HTTP 408", &Error{HTTPStatus: 408, StatusCode: -1}, true, "http_408"},
		{"HTTP 400", &Error{HTTPStatus: 400, StatusCode: 2}, false, "http_400"},
		{"HTTP 401", &Error{HTTPStatus: 401, StatusCode: -1}, false, "http_401"},
		{"HTTP 403", &Error{HTTPStatus: 403, StatusCode: -1}, false, "http_403"},
		{"HTTP 404 with statusCode 1", &Error{HTTPStatus: 404, StatusCode: 1}, false, "http_404"},
		{"redirect", &Error{HTTPStatus: 302, StatusCode: -1}, false, "http_302"},
		{"odd status", &Error{HTTPStatus: 999, StatusCode: -1}, false, "http_other"},
		{"decode on 2xx", &Error{HTTPStatus: 200, StatusCode: -1, Err: &decodeError{reason: "x"}}, true, "decode"},
		{"network", &Error{StatusCode: -1, Err: netErr}, true, "network"},
		{"EOF", &Error{StatusCode: -1, Err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF)}, true, "network"},
		{"attempt timeout", &Error{StatusCode: -1, Err: &timeoutError{after: time.Second}}, true, "timeout"},
		{"dial timeout", &Error{StatusCode: -1, Err: dialTimeout}, true, "timeout"},
		{"caller canceled", &Error{StatusCode: -1, Err: &stoppedError{err: context.Canceled}}, false, "canceled"},
		{"caller deadline", &Error{HTTPStatus: 503, StatusCode: 1, Err: &stoppedError{err: context.DeadlineExceeded}}, false, "canceled"},
		{"authorizer", &Error{StatusCode: -1, Err: &authError{err: errors.New("no secret")}}, false, "auth"},
		{"authorizer without a token yet", &Error{StatusCode: -1, Err: &authError{err: fmt.Errorf("token: %w", ErrCredentialsUnavailable)}}, true, "auth"},
		{"bad request", &Error{StatusCode: -1, Err: &requestError{reason: "invalid URL"}}, false, "request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(tc.err.Retryable()).To(Equal(tc.retryable))
			g.Expect(tc.err.Code()).To(Equal(tc.code))
		})
	}
}

func TestErrorUnwraps(t *testing.T) {
	g := NewWithT(t)
	var err error = &Error{Op: OpRefresh, StatusCode: -1, Err: &stoppedError{err: context.Canceled}}
	g.Expect(errors.Is(err, context.Canceled)).To(BeTrue())
	err = fmt.Errorf("wrapped: %w", &Error{Op: OpRefresh, StatusCode: -1, Err: &timeoutError{after: time.Second}})
	g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
	var gmsErr *Error
	g.Expect(errors.As(err, &gmsErr)).To(BeTrue())
	g.Expect(gmsErr.Op).To(Equal(OpRefresh))
}

func TestDecodeEnvelope(t *testing.T) {
	g := NewWithT(t)
	resp, err := decodeEnvelope([]byte(`{"statusCode":0,"alias":"117","unknown":{"x":[1]},"messages":[{"index":1,"type":"Brand-New","text":"t","extra":true}],"nextPosition":2}`))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(0))
	g.Expect(resp.Alias).To(Equal("117"))
	g.Expect(resp.Messages).To(Equal([]Event{{Index: 1, Type: "Brand-New", Text: "t"}}))
	g.Expect(*resp.NextPosition).To(Equal(2))

	resp, err = decodeEnvelope([]byte(`{"statusCode":2,"chatEnded":true,"errors":[{"code":249,"advice":"a"}]}`))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp).To(Equal(&Response{StatusCode: 2, ChatEnded: true, Errors: []APIError{{Code: 249, Advice: "a"}}}))

	for body, reason := range map[string]string{
		``:                                  "empty body",
		`  `:                                "empty body",
		`{"alias":"1"}`:                     "no statusCode",
		`{"statusCode":0,"messages":[{"fr`:  "invalid JSON",
		`<html>secret-key</html>`:           "invalid JSON at offset 1",
		`{"statusCode":"0"}`:                "unexpected JSON string in statusCode",
		`[]`:                                "JSON array where an object was expected",
		`{"statusCode":0} trailing-garbage`: "invalid JSON",
	} {
		_, err := decodeEnvelope([]byte(body))
		g.Expect(err).To(MatchError(ContainSubstring(reason)), body)
		g.Expect(err.Error()).NotTo(ContainSubstring("secret-key"))
	}
}

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
