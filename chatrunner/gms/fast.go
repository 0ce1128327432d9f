package gms

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
)

// Refresh Chat, the call a runner makes once per chat per polling interval, is sent on
// fasthttp rather than net/http. net/http hands every request to two goroutines of its
// connection (one writes, one reads) and builds a Request, a Response and their header
// maps each time; fasthttp writes and reads on the calling goroutine with buffers it
// reuses. At thousands of polls a second that is most of what a poll costs a runner besides
// the system calls themselves (measured in the README's Benchmark section).
//
// Only Refresh Chat goes this way, and only to a service URL reached directly:
//   - fasthttp has no reader on an idle connection, so a connection the server closed while
//     idle shows only when a request is written to it, as a network error that the retry
//     policy retries. fasthttp closes connections idle for fastIdleConnTimeout, below the
//     keep-alive timeouts of common servers, so this is rare; and a Refresh Chat is safe to
//     send again (it reads the transcript from a position the client chooses), where a
//     message or a Disconnect is not: those stay on net/http, whose connection reader
//     notices such a close before it writes a request. A failure is never retried
//     inside fasthttp (it retries no POST), so every one is the policy's and is reported.
//   - a proxy from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and credentials in
//     the service URL are net/http's to honour: with either, every call uses net/http
//     (config.fast).
//
// A call on fasthttp cannot be abandoned half way: when the caller's context ends while it
// runs, it runs to its answer or its attempt timeout and its answer is dropped (a
// stoppedError, as on net/http), so no poll's answer is handled after its chat was let go.

// FastTransport supplies the fasthttp client Refresh Chat is sent on. The runner's
// transport implements it next to http.RoundTripper, so that both carry the gateway's TLS
// material and swap together when it changes.
type FastTransport interface {
	FastClient() *fasthttp.Client
}

// FixedFast is a FastTransport of one client that never changes (no TLS material to
// rotate).
type FixedFast struct{ Client *fasthttp.Client }

// FastClient returns the client.
func (f FixedFast) FastClient() *fasthttp.Client { return f.Client }

// Tuning of the fasthttp client, beside NewTransport's for net/http.
const (
	// fastReadBufferSize bounds an answer's header: 8 KiB, the default limit of the Jetty
	// server GMS runs on. The buffers are pooled and held only while a call runs.
	fastReadBufferSize = 8 << 10
	// fastIdleConnTimeout closes a connection unused this long: below the keep-alive
	// timeouts of common servers and load balancers (Jetty's 30 s, nginx's 75 s, Apache's
	// and Node's 5 s), so that fasthttp seldom writes to a connection its peer closed.
	fastIdleConnTimeout = 4 * time.Second
	// userAgent names the runner to GMS and to the load balancers before it.
	userAgent = "genesys-gateway-operator"
)

// NewFastClient returns the fasthttp client of Refresh Chat: as many connections per host
// as NewTransport keeps (a call waits for one, within its attempt timeout, when all are
// busy), paths sent as given, answers up to maxBodyBytes, IPv4 and IPv6, and tlsConfig for
// https (TLS 1.2 or later when nil).
func NewFastClient(tlsConfig *tls.Config) *fasthttp.Client {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &fasthttp.Client{
		Name:                   userAgent,
		TLSConfig:              tlsConfig,
		MaxConnsPerHost:        MaxIdleConnsPerHost,
		MaxConnWaitTimeout:     MaxRetryWait,
		MaxIdleConnDuration:    fastIdleConnTimeout,
		ReadBufferSize:         fastReadBufferSize,
		MaxResponseBodySize:    maxBodyBytes,
		DisablePathNormalizing: true,
		DialDualStack:          true,
		// An answer fasthttp cannot parse is described without quoting it: it may carry
		// the session's secureKey.
		ConfigureClient: func(hc *fasthttp.HostClient) error {
			hc.SecureErrorLogMessage = true
			return nil
		},
	}
}

// fastPost POSTs form to endpoint once on fc, within timeout, and classifies the answer as
// post does.
func (c *Client) fastPost(ctx context.Context, fc *fasthttp.Client, op Operation, endpoint, form string, timeout time.Duration) attemptResult {
	fail := func(httpStatus int, err error) attemptResult {
		return attemptResult{err: &Error{Op: op, HTTPStatus: httpStatus, StatusCode: -1, Err: err}}
	}
	if err := ctx.Err(); err != nil {
		return fail(0, &stoppedError{err: err})
	}
	// fasthttp times the call by the real clock, whatever clock the client's waits use.
	deadline := time.Now().Add(timeout)
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(endpoint)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType(formContentType)
	req.Header.Set("Accept", acceptJSON[0])
	req.SetBodyString(form)
	var u *url.URL // parsed only for the authorizer or the cookie jar
	if c.auth != nil || c.jar.active() {
		var err error
		if u, err = url.Parse(endpoint); err != nil {
			return fail(0, &requestError{reason: "invalid URL"})
		}
	}
	if c.auth != nil {
		if err := c.fastAuthorize(ctx, req, u, deadline); err != nil {
			return fail(0, err)
		}
	}
	if u != nil {
		for _, ck := range c.jar.Cookies(u) {
			req.Header.SetCookie(ck.Name, ck.Value)
		}
	}
	err := fc.DoDeadline(req, resp, deadline)
	if ctx.Err() != nil {
		return fail(0, &stoppedError{err: ctx.Err()})
	}
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		return fail(0, &timeoutError{after: timeout})
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fail(resp.StatusCode(), errBodyTooLarge)
	case err != nil:
		return fail(0, withoutQuotes(err))
	}
	c.keepCookies(resp, endpoint, u)
	return c.answer(op, resp.StatusCode(), resp.Body(), string(resp.Header.Peek("Retry-After")))
}

// fastAuthorize asks the authorizer to authorize the request as it would on net/http (a
// bodiless http.Request of the same URL, its context ending at deadline) and copies the
// headers it set onto req.
func (c *Client) fastAuthorize(ctx context.Context, req *fasthttp.Request, u *url.URL, deadline time.Time) error {
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hr := (&http.Request{Method: http.MethodPost, URL: u, Host: u.Host, Header: make(http.Header, 1)}).WithContext(actx)
	if err := c.auth.Authorize(actx, hr); err != nil {
		if ctx.Err() != nil {
			return &stoppedError{err: ctx.Err()}
		}
		return &authError{err: err}
	}
	for name, values := range hr.Header {
		for i, v := range values {
			if i == 0 {
				req.Header.Set(name, v)
			} else {
				req.Header.Add(name, v)
			}
		}
	}
	return nil
}

// keepCookies stores the cookies an answer set, as http.Client does with its jar.
func (c *Client) keepCookies(resp *fasthttp.Response, endpoint string, u *url.URL) {
	var cookies []*http.Cookie
	for _, v := range resp.Header.Cookies() {
		if ck, err := http.ParseSetCookie(string(v)); err == nil {
			cookies = append(cookies, ck)
		}
	}
	if len(cookies) == 0 {
		return
	}
	if u == nil {
		var err error
		if u, err = url.Parse(endpoint); err != nil {
			return
		}
	}
	c.jar.SetCookies(u, cookies)
}

// directly says whether net/http would send a request to u without a proxy (proxyFor is
// NewTransport's, http.ProxyFromEnvironment) and without credentials from the URL itself:
// the calls fasthttp may carry.
func directly(u *url.URL, proxyFor func(*http.Request) (*url.URL, error)) bool {
	if u.User != nil {
		return false
	}
	proxy, err := proxyFor(&http.Request{URL: u, Header: http.Header{}})
	return err == nil && proxy == nil
}
