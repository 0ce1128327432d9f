package gms

import (
	"errors"
	"net/http"
	"net/url"
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
