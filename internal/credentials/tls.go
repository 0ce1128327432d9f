package credentials

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// TLSMaterial is the content of a gateway's spec.connection.tls: PEM data, nil where the
// gateway names nothing.
type TLSMaterial struct {
	// CABundle holds the CA certificates trusted besides the system's.
	CABundle []byte
	// ClientCertificate and ClientKey are the certificate chain and key presented to GMS.
	ClientCertificate, ClientKey []byte
}

// TLSConfig turns a gateway's TLS material into the configuration of its connections to
// Genesys: the system's roots plus the CA bundle, the client certificate, TLS 1.2 at the
// least, verification always on. The operator calls it to decide whether the material is
// usable and the runner calls it to build its transport, so the two cannot disagree: a
// bundle with one block that does not parse is refused by both.
//
// Errors are *Error: ReasonCABundleInvalid for the bundle, the reasons of
// ParseCertificate for the client certificate, so a caller knows which object to name.
func TLSConfig(m TLSMaterial, now time.Time) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.CABundle != nil {
		certs, err := parseCABundle(m.CABundle)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		cfg.RootCAs = pool
	}
	if m.ClientCertificate != nil || m.ClientKey != nil {
		cert, err := ParseCertificate(m.ClientCertificate, m.ClientKey, nil, now)
		if err != nil {
			return nil, err
		}
		pair := tls.Certificate{PrivateKey: cert.Key, Leaf: cert.Leaf()}
		for _, c := range cert.Chain {
			pair.Certificate = append(pair.Certificate, c.Raw)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// ServingMaterial is the material of a serving certificate from a kubernetes.io/tls
// Secret: tls.crt and tls.key serve; peers that call the server are trusted with ca.crt
// when the Secret has one (cert-manager writes it), else with the certificate itself. The
// operator checks, and the runner serves, the TLSConfig of this same material.
func ServingMaterial(cert, key, ca []byte) TLSMaterial {
	roots := ca
	if len(roots) == 0 {
		roots = cert
	}
	return TLSMaterial{CABundle: roots, ClientCertificate: cert, ClientKey: key}
}
