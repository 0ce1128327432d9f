package entratest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
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

// NewClientCert makes a client certificate (RSA 2048 unless opts.ECDSA).
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
	var err error
	if opts.ECDSA {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root := issue(t, "Stand-in Root CA", rootKey.Public(), nil, rootKey, true, now.Add(-time.Hour), now.Add(48*time.Hour))
	issuer, issuerKey := root, crypto.Signer(rootKey)
	c := &ClientCert{Root: root, Key: key}
	var intermediate *x509.Certificate
	if opts.Intermediate {
		ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		intermediate = issue(t, "Stand-in Intermediate CA", ik.Public(), root, rootKey, true, now.Add(-time.Hour), now.Add(48*time.Hour))
		issuer, issuerKey = intermediate, ik
	}
	c.Leaf = issue(t, opts.CommonName, key.Public(), issuer, issuerKey, false, opts.NotBefore, opts.NotAfter)
	c.Chain = []*x509.Certificate{c.Leaf}
	if intermediate != nil {
		c.Chain = append(c.Chain, intermediate)
	}
	var b bytes.Buffer
	for _, x := range c.Chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})
	}
	c.CertPEM = b.Bytes()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return c
}

// EncryptedPKCS8PEM is the key as ENCRYPTED PRIVATE KEY (PBES2: PBKDF2-HMAC-SHA256,
// AES-256-CBC), as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
func (c *ClientCert) EncryptedPKCS8PEM(t testing.TB, password string) []byte {
	t.Helper()
	der, err := pkcs8.MarshalPrivateKey(c.Key, []byte(password), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// LegacyEncryptedPEM is the key as OpenSSL's traditional encrypted PEM (Proc-Type:
// 4,ENCRYPTED; DEK-Info: AES-256-CBC), of type RSA PRIVATE KEY or EC PRIVATE KEY.
func (c *ClientCert) LegacyEncryptedPEM(t testing.TB, password string) []byte {
	t.Helper()
	var typ string
	var der []byte
	switch k := c.Key.(type) {
	case *rsa.PrivateKey:
		typ, der = "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)
	case *ecdsa.PrivateKey:
		var err error
		if der, err = x509.MarshalECPrivateKey(k); err != nil {
			t.Fatal(err)
		}
		typ = "EC PRIVATE KEY"
	}
	//nolint:staticcheck // Insecure legacy format on purpose: the gateway must read it.
	block, err := x509.EncryptPEMBlock(rand.Reader, typ, der, []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func issue(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer, isCA bool, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
