package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// podNetwork stands in for the cluster's DNS and pod network. Runners forward a call that
// reaches the wrong runner to its owner by the owner pod's DNS name,
// <statefulset>-<n>.<headless service>.<namespace>.svc:8080, which does not resolve on this
// machine. Each runner gets HTTP_PROXY pointing here (Go's HTTP client honours it for http
// URLs, and never for loopback ones, so the API server and the simulator are reached
// directly), and this proxy sends each call to the local address of the runner so named.
type podNetwork struct {
	addr      string
	srv       *http.Server
	mu        sync.Mutex
	hosts     map[string]string // pod DNS host:port → local host:port
	forwarded atomic.Int64
}

// startPodNetwork serves the proxy on a free loopback port.
func startPodNetwork() (*podNetwork, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the pod network stand-in: %w", err)
	}
	n := &podNetwork{addr: l.Addr().String(), hosts: map[string]string{}}
	n.srv = &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := n.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(fmt.Sprintf("serving the pod network stand-in: %v", err))
		}
	}()
	return n, nil
}

// route sends the calls to host (a pod's DNS name and port) to addr.
func (n *podNetwork) route(host, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts[host] = addr
}

// ServeHTTP proxies a call in absolute form (as sent to an HTTP proxy) to the runner its
// host names.
func (n *podNetwork) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	addr, ok := n.hosts[r.URL.Host]
	n.mu.Unlock()
	if r.Method == http.MethodConnect || !ok {
		http.Error(w, "the demo's pod network only knows the runner pods, over http: not "+r.URL.Host, http.StatusBadGateway)
		return
	}
	n.forwarded.Add(1)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			pr.Out.Host = pr.In.Host // as the pod would see it
		},
		FlushInterval: -1,
	}
	proxy.ServeHTTP(w, r)
}

// close stops the proxy.
func (n *podNetwork) close() { _ = n.srv.Close() }
