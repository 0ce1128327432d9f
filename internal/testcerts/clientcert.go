package testcerts

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"
)

// CertOptions describe a client certificate to make. Zero fields take defaults.
type CertOptions struct {
	// CommonName defaults to "genesys-gateway".
	CommonName string
	// ECDSA makes a P-256 key instead of an RSA 2048 one.
	ECDSA bool
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// Intermediate has the leaf issued by an intermediate CA (sent in x5c) under a root;
	// otherwise a root CA issues the leaf directly.
	Intermediate bool
}

// ClientCert is a client certificate, its chain and its key, with PEM encodings.
type ClientCert struct {
	// Leaf is the client certificate; Chain is the leaf then the intermediate, if any (not
	// the root), as it would be in tls.crt.
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	// Root is the CA at the top.
	Root *x509.Certificate
	Key  crypto.Signer
	// CertPEM is Chain in PEM, leaf first; KeyPEM is the key in unencrypted PKCS#8.
	CertPEM, KeyPEM []byte
}

// NewClientCert makes a client certificate (RSA 2048 unless opts.ECDSA) under a new root
// CA, and an intermediate CA when opts.Intermediate.
func NewClientCert(t testing.TB, opts CertOptions) *ClientCert {
	t.Helper()
	if opts.CommonName == "" {
		opts.CommonName = "genesys-gateway"
	}
	now := time.Now()
	if opts.NotBefore.IsZero() {
		opts.NotBefore = now.Add(-time.Hour)
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = now.Add(24 * time.Hour)
	}
	var key crypto.Signer
	if opts.ECDSA {
		key = ECDSAKey(t)
	} else {
		key = RSAKey(t)
	}
	rootKey := ECDSAKey(t)
	root := Issue(t, "Stand-in Root CA", rootKey.Public(), nil, rootKey, true, now.Add(-time.Hour), now.Add(48*time.Hour))
	issuer, issuerKey := root, crypto.Signer(rootKey)
	c := &ClientCert{Root: root, Key: key}
	var intermediate *x509.Certificate
	if opts.Intermediate {
		ik := ECDSAKey(t)
		intermediate = Issue(t, "Stand-in Intermediate CA", ik.Public(), root, rootKey, true, now.Add(-time.Hour), now.Add(48*time.Hour))
		issuer, issuerKey = intermediate, ik
	}
	c.Leaf = Issue(t, opts.CommonName, key.Public(), issuer, issuerKey, false, opts.NotBefore, opts.NotAfter)
	c.Chain = []*x509.Certificate{c.Leaf}
	if intermediate != nil {
		c.Chain = append(c.Chain, intermediate)
	}
	c.CertPEM = CertPEM(c.Chain...)
	c.KeyPEM = PKCS8PEM(t, key)
	return c
}

// RootPEM is the root CA in PEM: a CA bundle that trusts the certificate.
func (c *ClientCert) RootPEM() []byte { return CertPEM(c.Root) }

// EncryptedPKCS8PEM is the key as ENCRYPTED PRIVATE KEY (PBES2: PBKDF2-HMAC-SHA256,
// AES-256-CBC), as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
func (c *ClientCert) EncryptedPKCS8PEM(t testing.TB, password string) []byte {
	t.Helper()
	return EncryptedPKCS8PEM(t, c.Key, password, nil)
}

// LegacyEncryptedPEM is the key as OpenSSL's traditional encrypted PEM (Proc-Type:
// 4,ENCRYPTED; DEK-Info: AES-256-CBC), of type RSA PRIVATE KEY or EC PRIVATE KEY.
func (c *ClientCert) LegacyEncryptedPEM(t testing.TB, password string) []byte {
	t.Helper()
	return LegacyEncryptedPEM(t, c.Key, password)
}
