package gms

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

// lazyJar is a cookie jar that costs nothing until a server sets a cookie: http.Client asks
// its jar for the cookies of every request, and a cookiejar.Jar answers under a lock with
// allocations even when it holds none. Most GMS deployments set no cookie; a load
// balancer that pins a session with one sets it on the first answer, and from then on the
// jar is consulted for that host (for every host once a cookie names a Domain, which may
// cover other hosts).
type lazyJar struct {
	jar http.CookieJar

	mu sync.Mutex // serialises the writers of hosts
	// hosts are the hosts that set a cookie, copied on write; nil until the first.
	hosts atomic.Pointer[map[string]struct{}]
	// anyHost is set once a cookie with a Domain attribute was set.
	anyHost atomic.Bool
}

func newLazyJar(jar http.CookieJar) *lazyJar { return &lazyJar{jar: jar} }

// SetCookies records that u's host set cookies, then stores them.
func (j *lazyJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if len(cookies) == 0 {
		return
	}
	// Stored first, announced after: a concurrent Cookies that sees the host finds them.
	j.jar.SetCookies(u, cookies)
	for _, c := range cookies {
		if c.Domain != "" {
			j.anyHost.Store(true)
			break
		}
	}
	host := jarHost(u)
	if m := j.hosts.Load(); m != nil {
		if _, ok := (*m)[host]; ok {
			return
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	next := map[string]struct{}{}
	if m := j.hosts.Load(); m != nil {
		next = maps.Clone(*m)
	}
	next[host] = struct{}{}
	j.hosts.Store(&next)
}

// active says whether any server set a cookie: until then Cookies returns none, whatever
// the URL.
func (j *lazyJar) active() bool { return j.hosts.Load() != nil }

// Cookies returns the cookies to send to u: none, without asking the jar, while no cookie
// was ever set for u's host.
func (j *lazyJar) Cookies(u *url.URL) []*http.Cookie {
	m := j.hosts.Load()
	if m == nil {
		return nil
	}
	if !j.anyHost.Load() {
		if _, ok := (*m)[jarHost(u)]; !ok {
			return nil
		}
	}
	return j.jar.Cookies(u)
}

// jarHost is u's host name without port, in lower case, without a trailing dot: cookies
// are not bound to a port.
func jarHost(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}
