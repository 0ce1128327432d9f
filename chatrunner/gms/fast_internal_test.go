package gms

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"syscall"
	"testing"

	. "github.com/onsi/gomega"
)

func TestFasthttpOnlyForAServiceReachedDirectly(t *testing.T) {
	noProxy := func(*http.Request) (*url.URL, error) { return nil, nil }
	viaProxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.corp:3128") }
	badProxy := func(*http.Request) (*url.URL, error) { return nil, errors.New("invalid proxy address") }
	for _, tc := range []struct {
		name  string
		url   string
		proxy func(*http.Request) (*url.URL, error)
		want  bool
	}{
		{"direct", "https://gms.example:8443", noProxy, true},
		{"a proxy from the environment", "https://gms.example:8443", viaProxy, false},
		{"an unusable proxy setting", "https://gms.example:8443", badProxy, false},
		{"credentials in the URL", "https://bot:pa55@gms.example:8443", noProxy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			u, err := url.Parse(tc.url)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(directly(u, tc.proxy)).To(Equal(tc.want))
		})
	}
}

func TestTransportErrorsKeepTheirTextUnlessTheyMayQuoteTheAnswer(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		name string
		err  error
		kept bool
	}{
		{"a reset", reset, true},
		{"a reset, as net/http reports it", &url.Error{Op: "Post", URL: "http://gms/refresh", Err: reset}, true},
		{"an unknown authority", &url.Error{Op: "Post", URL: "https://gms/refresh", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, true},
		{"a closed connection", io.EOF, true},
		{"a malformed header line", &url.Error{Op: "Post", URL: "http://gms/refresh", Err: fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", textproto.ProtocolError("malformed MIME header line: secureKey=s3cr3t"))}, false},
		{"a malformed status line", fmt.Errorf("error when reading response headers: %q", "HTTP/1.1 s3cr3t"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := withoutQuotes(tc.err)
			if tc.kept {
				g.Expect(got).To(BeIdenticalTo(tc.err))
				return
			}
			g.Expect(got).To(BeAssignableToTypeOf(&unreadableError{}))
			g.Expect(got.Error()).NotTo(ContainSubstring("s3cr3t"))
		})
	}
}
