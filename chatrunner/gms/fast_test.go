package gms_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// The HTTP stacks' User-Agents tell which one sent a request.
const (
	fastAgent = "genesys-gateway-operator"
	netAgent  = "Go-http-client/1.1"
)

func TestRefreshGoesOnFasthttpAndEveryOtherCallOnNetHTTP(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	c, _ := serve(t, srv, gms.RetryPolicy{}, nil)
	_, err := c.Refresh(ctx(t), session, 3)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Send(ctx(t), session, "hi", "", 0)
	g.Expect(err).NotTo(HaveOccurred())

	refresh, send := srv.request(0), srv.request(1)
	g.Expect(refresh.UserAgent()).To(Equal(fastAgent))
	g.Expect(send.UserAgent()).To(Equal(netAgent))
	// The same request on either: path, headers and form.
	g.Expect(refresh.Method).To(Equal(http.MethodPost))
	g.Expect(refresh.URL.Path).To(Equal("/genesys/2/chat/svc/c1/refresh"))
	g.Expect(refresh.Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
	g.Expect(refresh.Header.Get("Accept")).To(Equal("application/json"))
	g.Expect(refresh.PostForm.Get("transcriptPosition")).To(Equal("3"))
	g.Expect(refresh.PostForm.Get("secureKey")).To(Equal("s3cr3t-key"))
	g.Expect(refresh.PostForm.Get("alias")).To(Equal("117"))
}

func TestACallersTransportCarriesEveryCall(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := gms.New(gms.Options{
		Settings:  gms.Settings{ServiceURL: hs.URL, ServiceName: "svc"},
		Transport: gms.NewTransport(), // and no Fast: a test's faults, a proxy of the caller's own
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Refresh(ctx(t), session, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.request(0).UserAgent()).To(Equal(netAgent))
}

func TestCredentialsInTheServiceURLKeepRefreshOnNetHTTP(t *testing.T) {
	g := NewWithT(t)
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { ok(w) }}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := gms.New(gms.Options{Settings: gms.Settings{
		ServiceURL: strings.Replace(hs.URL, "http://", "http://bot:pa55@", 1), ServiceName: "svc",
	}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Refresh(ctx(t), session, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.request(0).UserAgent()).To(Equal(netAgent))
	user, password, ok := srv.request(0).BasicAuth()
	g.Expect(ok).To(BeTrue(), "net/http sends the URL's credentials")
	g.Expect(user + ":" + password).To(Equal("bot:pa55"))
}

func TestAnAnswerTooLargeIsRefusedOnEitherStack(t *testing.T) {
	g := NewWithT(t)
	big := strings.Repeat(" ", 8<<20) + `{"statusCode":0}`
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(big)) }}
	c, _ := serve(t, srv, gms.RetryPolicy{}, nil)
	for name, call := range map[string]func() (*gms.Response, error){
		"fasthttp": func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) },
		"net/http": func() (*gms.Response, error) { return c.Send(ctx(t), session, "hi", "", 0) },
	} {
		_, err := call()
		e := asGMSError(g, err)
		g.Expect(e.Code()).To(Equal("decode"), name)
		g.Expect(e.Error()).To(ContainSubstring("body exceeds 8388608 bytes"), name)
	}
}

func TestAFasthttpCallWhoseContextEndsIsDroppedAsStopped(t *testing.T) {
	g := NewWithT(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		ok(w)
	}}
	c, _ := serve(t, srv, gms.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second}, nil)
	callCtx, cancel := context.WithCancel(context.Background())
	done := async(func() (*gms.Response, error) { return c.Refresh(callCtx, session, 1) })
	<-arrived
	cancel()
	close(release)
	r := receive(g, done)
	g.Expect(r.resp).To(BeNil(), "the answer that came after the stop is dropped")
	e := asGMSError(g, r.err)
	g.Expect(e.Code()).To(Equal("canceled"))
	g.Expect(e.Retryable()).To(BeFalse())
	g.Expect(srv.attempts()).To(Equal(1))
	g.Expect(srv.request(0).UserAgent()).To(Equal(fastAgent), "the call went on fasthttp")
}

func TestAFasthttpCallTimesOutWithinItsAttemptTimeout(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	srv := &counting{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { <-release }}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) }) // before the server's close, which waits for its handlers
	c, err := gms.New(gms.Options{Settings: gms.Settings{
		ServiceURL: hs.URL, ServiceName: "svc", Timeout: 100 * time.Millisecond,
	}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.Refresh(ctx(t), session, 1)
	e := asGMSError(g, err)
	g.Expect(e.Code()).To(Equal("timeout"))
	g.Expect(e.Retryable()).To(BeTrue())
	g.Expect(srv.request(0).UserAgent()).To(Equal(fastAgent))
}

func TestAnAnswerThatCannotBeParsedIsNotQuoted(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = conn.Read(make([]byte, 4096))
				// A header line without a colon, between the session's own secrets.
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Session: secureKey=s3cr3t-key\r\nbroken s3cr3t-key line\r\n\r\n")
			}()
		}
	}()
	c, err := gms.New(gms.Options{Settings: gms.Settings{ServiceURL: "http://" + ln.Addr().String(), ServiceName: "svc"}})
	g.Expect(err).NotTo(HaveOccurred())
	for name, call := range map[string]func() (*gms.Response, error){
		"fasthttp": func() (*gms.Response, error) { return c.Refresh(ctx(t), session, 1) },
		"net/http": func() (*gms.Response, error) { return c.Send(ctx(t), session, "hi", "", 0) },
	} {
		_, err = call()
		g.Expect(err).To(HaveOccurred(), name)
		g.Expect(asGMSError(g, err).Code()).To(Equal("network"), name)
		g.Expect(err.Error()).NotTo(ContainSubstring("s3cr3t"), name)
	}
}
