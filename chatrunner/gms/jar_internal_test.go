package gms

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	. "github.com/onsi/gomega"
)

// countingJar counts the lookups of a real jar.
type countingJar struct {
	*cookiejar.Jar
	lookups int
}

func (j *countingJar) Cookies(u *url.URL) []*http.Cookie {
	j.lookups++
	return j.Jar.Cookies(u)
}

func TestLazyJarAsksTheJarOnlyForHostsThatSetCookies(t *testing.T) {
	g := NewWithT(t)
	inner, err := cookiejar.New(nil)
	g.Expect(err).NotTo(HaveOccurred())
	counting := &countingJar{Jar: inner}
	j := newLazyJar(counting)
	gmsURL, _ := url.Parse("http://gms.example:8080/genesys/2/chat/svc/c1/refresh")
	other, _ := url.Parse("http://other.example/genesys/2/chat/svc/c1/refresh")

	g.Expect(j.Cookies(gmsURL)).To(BeEmpty())
	j.SetCookies(gmsURL, nil) // an answer without Set-Cookie
	g.Expect(j.Cookies(gmsURL)).To(BeEmpty())
	g.Expect(counting.lookups).To(BeZero())

	j.SetCookies(gmsURL, []*http.Cookie{{Name: "LB", Value: "node-7", Path: "/"}})
	sent := j.Cookies(gmsURL)
	g.Expect(sent).To(HaveLen(1))
	g.Expect(sent[0].Value).To(Equal("node-7"))
	// Not bound to the port, nor to the case of the host.
	upper, _ := url.Parse("http://GMS.example:9090/x")
	g.Expect(j.Cookies(upper)).To(HaveLen(1))
	g.Expect(j.Cookies(other)).To(BeEmpty())
	g.Expect(counting.lookups).To(Equal(2), "another host is not looked up")

	// A Domain cookie may cover other hosts: every lookup goes to the jar from then on.
	j.SetCookies(gmsURL, []*http.Cookie{{Name: "D", Value: "1", Path: "/", Domain: "example"}})
	j.Cookies(other)
	g.Expect(counting.lookups).To(Equal(3))
}
