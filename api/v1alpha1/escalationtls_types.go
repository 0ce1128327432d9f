package v1alpha1

// EscalationTLS serves the escalation API over HTTPS.
type EscalationTLS struct {
	// secretRef names a Secret of type kubernetes.io/tls in the gateway's namespace (a
	// cert-manager Certificate's Secret fits): tls.crt, the certificate chain, and tls.key,
	// its key. The certificate should name the escalation Service
	// (<gateway>-escalations.<namespace>.svc) and, for runner-to-runner forwarding, the
	// runner pods (*.<gateway>-runners.<namespace>.svc). When the Secret also holds ca.crt,
	// runners trust it when they forward a call to each other; otherwise they trust the
	// certificate itself. A renewed certificate is served from the next connection on,
	// without a restart. Like every referenced Secret it must be granted to the gateway.
	// +required
	SecretRef SecretReference `json:"secretRef"`
}
