package main

import (
	"crypto/tls"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsOptions serves the operator's metrics. Secure (the default) is HTTPS with a
// self-signed certificate, and every scrape must carry a bearer token that the API server
// authenticates (TokenReview) and authorizes for GET /metrics (SubjectAccessReview), as the
// kubebuilder v4 scaffold does: the metrics name every tenant's gateways, so anyone who can
// reach the pod must not read them. Insecure serves plain HTTP to anyone (for local runs).
func metricsOptions(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr}
	if secure {
		opts.SecureServing = true
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
		// HTTP/1.1 only, as the kubebuilder scaffold does: HTTP/2's stream reset and
		// continuation floods (CVE-2023-44487, CVE-2023-39325) need no credentials.
		opts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return opts
}

// watchNamespaces limits the operator's caches to the listed namespaces (comma-separated;
// empty: all). With a namespace list the operator needs rights in those namespaces only,
// which config/overlays/namespaced grants with Roles instead of a ClusterRole.
func watchNamespaces(opts cache.Options, list string) cache.Options {
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns == "" {
			continue
		}
		if opts.DefaultNamespaces == nil {
			opts.DefaultNamespaces = map[string]cache.Config{}
		}
		opts.DefaultNamespaces[ns] = cache.Config{}
	}
	return opts
}
