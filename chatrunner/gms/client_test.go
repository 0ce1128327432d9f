package gms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// counting is a tiny Chat API server: answer n (from 1) decides each attempt's answer.
type counting struct {
	mu       sync.Mutex
	n        int
	requests []*http.Request
	answer   func(n int, w http.ResponseWriter, r *http.Request)
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	c.mu.Lock()
	c.n++
	n := c.n
	c.requests = append(c.requests, r)
	c.mu.Unlock()
	c.answer(n, w, r)
}

func (c *counting) attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *counting) request(i int) *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[i]
}

// ok answers statusCode 0.
func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprint(w, `{"statusCode":0,"chatId":"c1","alias":"117","messages":[],"nextPosition":1}`)
}

// status answers HTTP status with a JSON envelope of statusCode 1.
func status(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"statusCode":1,"errors":[{"code":%d,"advice":"try again"}]}`, code)
}

// serve starts handler and a client of it with a fake clock.
func serve(t *testing.T, handler http.Handler, retry gms.RetryPolicy, obs gms.Observer) (*gms.Client, *clocktesting.FakeClock) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	clk := clocktesting.NewFakeClock(epoch)
	opts := gms.Options{
		Settings: gms.Settings{ServiceURL: srv.URL, ServiceName: "svc", Retry: retry, Timeout: 5 * time.Second},
		Clock:    clk,
	}
	if obs != nil {
		opts.Observer = obs
	}
	c, err := gms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

var session = gms.NewSession("c1", "u1", "s3cr3t-key", "117")

func TestRetryWaitsGrowUpToTheCap(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { status(w, http.StatusServiceUnavailable) }}
	obs := &observer{}
	c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 6, InitialDelay: 4200 * time.Millisecond, Multiplier: 2}, obs)

	done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
	for _, d := range []time.Duration{4200 * time.Millisecond, 8400 * time.Millisecond, 16800 * time.Millisecond, 30 * time.Second, 30 * time.Second} {
		expectBackoff(g, clk, srv.attempts, d)
	}
	r := receive(g, done)
	e := asGMSError(g, r.err)
	g.Expect(e.Attempts).To(Equal(6))
	g.Expect(e.Retryable()).To(BeTrue())
	g.Expect(e.Code()).To(Equal("http_503"))
	g.Expect(e.HTTPStatus).To(Equal(503))
	g.Expect(e.StatusCode).To(Equal(1))
	g.Expect(e.Errors).To(Equal([]gms.APIError{{Code: 503, Advice: "try again"}}))
	g.Expect(r.resp).NotTo(BeNil(), "the last attempt's envelope")
	g.Expect(e.Error()).To(Equal("gms refresh: HTTP 503 Service Unavailable: statusCode 1: 503 try again (6 attempts)"))
	g.Expect(srv.attempts()).To(Equal(6))
	g.Expect(clk.HasWaiters()).To(BeFalse())

	calls, retries := obs.snapshot()
	g.Expect(calls).To(HaveLen(6))
	for _, c := range calls {
		g.Expect(c.op).To(Equal(gms.OpRefresh))
		g.Expect(c.err).To(MatchError(ContainSubstring("HTTP 503")))
	}
	g.Expect(retries).To(HaveLen(5))
}

func TestInitialDelayIsCapped(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			status(w, http.StatusInternalServerError)
			return
		}
		ok(w)
	}}
	c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 2, InitialDelay: 45 * time.Second, Multiplier: 2}, nil)
	done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
	expectBackoff(g, clk, srv.attempts, gms.MaxRetryWait)
	g.Expect(receive(g, done).err).NotTo(HaveOccurred())
}

func TestNoRetryWithOneAttempt(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { status(w, http.StatusBadGateway) }}
	c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 0, InitialDelay: time.Second}, nil)
	_, err := c.Refresh(ctx(t), session, 1)
	g.Expect(asGMSError(g, err).Attempts).To(Equal(1))
	g.Expect(srv.attempts()).To(Equal(1))
	g.Expect(clk.HasWaiters()).To(BeFalse())
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		initial    time.Duration
		want       time.Duration
		// backoff: want is a back-off step, with its jitter; else the exact wait.
		backoff bool
	}{
		{"longer than the backoff", http.StatusTooManyRequests, "20", time.Second, 20 * time.Second, false},
		{"shorter than the backoff", http.StatusServiceUnavailable, "1", 5 * time.Second, 5 * time.Second, true},
		{"capped", http.StatusServiceUnavailable, "120", time.Second, gms.MaxRetryWait, false},
		{"HTTP date", http.StatusServiceUnavailable, epoch.Add(15 * time.Second).Format(http.TimeFormat), time.Second, 15 * time.Second, false},
		{"ignored on other statuses", http.StatusBadGateway, "20", time.Second, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			srv := &counting{answer: func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					status(w, tc.status)
					return
				}
				ok(w)
			}}
			c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 2, InitialDelay: tc.initial, Multiplier: 2}, nil)
			done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
			if tc.backoff {
				expectBackoff(g, clk, srv.attempts, tc.want)
			} else {
				expectWait(g, clk, srv.attempts, tc.want)
			}
			r := receive(g, done)
			g.Expect(r.err).NotTo(HaveOccurred())
			g.Expect(r.resp.StatusCode).To(Equal(0))
		})
	}
}

func TestContextEndsTheWait(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { status(w, http.StatusServiceUnavailable) }}
	c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 5, InitialDelay: time.Second}, nil)
	callCtx, cancel := context.WithCancel(context.Background())
	done := async(func() (*gms.Response, error) { return c.Refresh(callCtx, session, 1) })
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	cancel()
	r := receive(g, done)
	e := asGMSError(g, r.err)
	g.Expect(errors.Is(r.err, context.Canceled)).To(BeTrue())
	g.Expect(e.Attempts).To(Equal(1))
	g.Expect(e.Retryable()).To(BeFalse())
	g.Expect(e.Code()).To(Equal("canceled"))
	g.Expect(srv.attempts()).To(Equal(1))
	g.Expect(clk.HasWaiters()).To(BeFalse(), "the timer is stopped")

	// A context already ended makes no attempt succeed.
	_, err := c.Refresh(callCtx, session, 1)
	g.Expect(asGMSError(g, err).Code()).To(Equal("canceled"))
}

func TestConfigureTakesEffectOnTheNextCall(t *testing.T) {
	g := NewWithT(t)
	first := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { status(w, http.StatusServiceUnavailable) }}
	second := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { status(w, http.StatusServiceUnavailable) }}
	srv2 := httptest.NewServer(second)
	t.Cleanup(srv2.Close)
	c, clk := serve(t, first, gms.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 3}, nil)

	done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	s := c.Settings()
	s.ServiceURL = srv2.URL + "/"
	s.Retry = gms.RetryPolicy{MaxAttempts: 2, InitialDelay: 7 * time.Second}
	g.Expect(c.Configure(s)).To(Succeed())
	// The call in flight keeps its server and its policy: 3 attempts, waits 1s then 3s.
	expectBackoff(g, clk, first.attempts, time.Second)
	expectBackoff(g, clk, first.attempts, 3*time.Second)
	g.Expect(asGMSError(g, receive(g, done).err).Attempts).To(Equal(3))
	g.Expect(first.attempts()).To(Equal(3))

	// The next call uses the new server and policy.
	done = async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
	expectBackoff(g, clk, second.attempts, 7*time.Second)
	g.Expect(asGMSError(g, receive(g, done).err).Attempts).To(Equal(2))
	g.Expect(second.attempts()).To(Equal(2))
	g.Expect(second.request(0).URL.Path).To(Equal("/genesys/2/chat/svc/c1/refresh"))
	g.Expect(first.attempts()).To(Equal(3))
}

func TestConfigureIsSafeWhileCallsRun(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	c, _ := serve(t, srv, gms.RetryPolicy{MaxAttempts: 1}, nil)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if i%2 == 0 {
					s := c.Settings()
					s.Timeout = time.Duration(j+1) * time.Second
					s.Overrides = map[gms.Operation]string{gms.OpStartTyping: "typingStart" + strconv.Itoa(j)}
					_ = c.Configure(s)
					continue
				}
				if _, err := c.StartTyping(context.Background(), session, ""); err != nil {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	g.Expect(failures.Load()).To(BeZero())
	g.Expect(srv.attempts()).To(Equal(80))
}

func TestCookieJarKeepsTheStickinessCookie(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			http.SetCookie(w, &http.Cookie{Name: "LB", Value: "node-7", Path: "/"})
		}
		ok(w)
	}}
	c, _ := serve(t, srv, gms.RetryPolicy{}, nil)
	_, err := c.Refresh(ctx(t), session, 1)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Send(ctx(t), session, "hi", "", 0)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Refresh(ctx(t), session, 1)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = srv.request(0).Cookie("LB")
	g.Expect(err).To(MatchError(http.ErrNoCookie))
	for i := 1; i < 3; i++ {
		cookie, err := srv.request(i).Cookie("LB")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cookie.Value).To(Equal("node-7"))
	}
}

func TestAuthorizerIsCalledOnEveryAttempt(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			status(w, http.StatusBadGateway)
			return
		}
		ok(w)
	}}
	var calls atomic.Int32
	srvHTTP := httptest.NewServer(srv)
	t.Cleanup(srvHTTP.Close)
	clk := clocktesting.NewFakeClock(epoch)
	c, err := gms.New(gms.Options{
		Settings: gms.Settings{ServiceURL: srvHTTP.URL, ServiceName: "svc", Retry: gms.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Second}},
		Clock:    clk,
		Auth: gms.AuthorizerFunc(func(_ context.Context, req *http.Request) error {
			n := calls.Add(1)
			req.Header.Set("Authorization", "Bearer token-"+strconv.Itoa(int(n)))
			return nil
		}),
	})
	g.Expect(err).NotTo(HaveOccurred())
	done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) })
	expectBackoff(g, clk, srv.attempts, time.Second)
	g.Expect(receive(g, done).err).NotTo(HaveOccurred())
	g.Expect(srv.request(0).Header.Get("Authorization")).To(Equal("Bearer token-1"))
	g.Expect(srv.request(1).Header.Get("Authorization")).To(Equal("Bearer token-2"))
}

func TestAuthorizerErrorIsNotRetried(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	srvHTTP := httptest.NewServer(srv)
	t.Cleanup(srvHTTP.Close)
	obs := &observer{}
	c, err := gms.New(gms.Options{
		Settings: gms.Settings{ServiceURL: srvHTTP.URL, ServiceName: "svc", Retry: gms.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second}},
		Auth: gms.BasicAuth(func() (string, string, error) {
			return "", "", errors.New("secret gms-basic not found")
		}),
		Observer: obs,
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Refresh(ctx(t), session, 1)
	e := asGMSError(g, err)
	g.Expect(e.Code()).To(Equal("auth"))
	g.Expect(e.Retryable()).To(BeFalse())
	g.Expect(e.Attempts).To(Equal(1))
	g.Expect(e.Error()).To(Equal("gms refresh: authorize: basic auth credentials: secret gms-basic not found (1 attempt)"))
	g.Expect(srv.attempts()).To(BeZero())
	calls, retries := obs.snapshot()
	g.Expect(calls).To(HaveLen(1))
	g.Expect(retries).To(BeEmpty())
}

func TestRedirectIsNotFollowed(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}}
	c, _ := serve(t, srv, gms.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second}, nil)
	_, err := c.Refresh(ctx(t), session, 1)
	e := asGMSError(g, err)
	g.Expect(e.Code()).To(Equal("http_302"))
	g.Expect(e.Attempts).To(Equal(1))
	g.Expect(srv.attempts()).To(Equal(1))
}

func TestFailedAttemptsStillAdoptTheAlias(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprint(w, `{"statusCode":1,"alias":"205"}`)
			return
		}
		ok(w)
	}}
	c, clk := serve(t, srv, gms.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Second}, nil)
	s := gms.NewSession("c1", "u1", "k", "117")
	done := async(func() (*gms.Response, error) { return c.Refresh(ctx(t), s, 1) })
	expectBackoff(g, clk, srv.attempts, time.Second)
	g.Expect(receive(g, done).err).NotTo(HaveOccurred())
	g.Expect(srv.request(0).PostForm.Get(gms.ParamAlias)).To(Equal("117"))
	g.Expect(srv.request(1).PostForm.Get(gms.ParamAlias)).To(Equal("205"), "the retry sends the alias the failed attempt named")
	g.Expect(s.Alias()).To(Equal("117"), "then the success's alias")
}

func TestErrorsRedactAnEchoedSecureKey(t *testing.T) {
	g := NewWithT(t)
	s := gms.NewSession("c1", "u1", "4ee15d7e1c343c8e", "117")
	srv := &counting{answer: func(_ int, w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"statusCode":2,"chatEnded":true,"errors":[{"code":8210,"advice":"bad secure key %s"}]}`,
			r.PostForm.Get(gms.ParamSecureKey))
	}}
	c, _ := serve(t, srv, gms.RetryPolicy{MaxAttempts: 3}, nil)
	_, err := c.Disconnect(ctx(t), s)
	g.Expect(err).To(MatchError("gms disconnect: statusCode 2 (chat ended): 8210 bad secure key [redacted] (1 attempt)"))
	g.Expect(fmt.Sprintf("%v %+v", err, err)).NotTo(ContainSubstring("4ee15d7e1c343c8e"))
}

func TestRequestChatNeedsTheSessionIdentity(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, `{"statusCode":0,"chatId":"c1","userId":"u1","alias":"117"}`)
	}}
	c, _ := serve(t, srv, gms.RetryPolicy{MaxAttempts: 3}, nil)
	s, resp, err := c.RequestChat(ctx(t), gms.ChatRequest{Nickname: "n"})
	g.Expect(s).To(BeNil())
	g.Expect(resp).NotTo(BeNil())
	e := asGMSError(g, err)
	g.Expect(e.Error()).To(Equal("gms requestChat: undecodable answer: answer lacks [secureKey] (1 attempt)"))
	g.Expect(e.Code()).To(Equal("decode"))
	g.Expect(srv.attempts()).To(Equal(1))
}

func TestCallRefusesWhatItCannotSend(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	c, _ := serve(t, srv, gms.RetryPolicy{}, nil)
	_, err := c.Refresh(ctx(t), nil, 1)
	g.Expect(err).To(MatchError(ContainSubstring("no session")))
	_, err = c.Call(ctx(t), gms.OpRequestChat, session, nil)
	g.Expect(err).To(MatchError(ContainSubstring("not a session operation")))
	_, err = c.Call(ctx(t), gms.OpFileDownload, session, nil)
	g.Expect(err).To(MatchError(ContainSubstring("not supported")))
	g.Expect(srv.attempts()).To(BeZero())
}
