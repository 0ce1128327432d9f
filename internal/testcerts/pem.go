package testcerts

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/youmark/pkcs8"
)

// CertPEM encodes certificates as CERTIFICATE blocks, in order: a chain in tls.crt, or a
// CA bundle.
func CertPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// PKCS1PEM encodes an RSA key as RSA PRIVATE KEY (PKCS#1).
func PKCS1PEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// SEC1PEM encodes an ECDSA key as EC PRIVATE KEY (SEC 1).
func SEC1PEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("encoding an EC key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// PKCS8DER encodes a key (RSA, ECDSA or Ed25519) as unencrypted PKCS#8 DER.
func PKCS8DER(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding a %T as PKCS#8: %v", key, err)
	}
	return der
}

// PKCS8PEM encodes a key as PRIVATE KEY (unencrypted PKCS#8).
func PKCS8PEM(t testing.TB, key any) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: PKCS8DER(t, key)})
}

// EncryptedPKCS8PEM encrypts a key as ENCRYPTED PRIVATE KEY (PKCS#8, PBES2). With nil
// opts it uses PBKDF2-HMAC-SHA256 and AES-256-CBC, as `openssl pkcs8 -topk8 -v2
// aes-256-cbc` does; opts choose another cipher or KDF (scrypt).
func EncryptedPKCS8PEM(t testing.TB, key any, password string, opts *pkcs8.Opts) []byte {
	t.Helper()
	der, err := pkcs8.MarshalPrivateKey(key, []byte(password), opts)
	if err != nil {
		t.Fatalf("encrypting a %T as PKCS#8: %v", key, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// LegacyEncryptedPEM encrypts an RSA or ECDSA key the OpenSSL "traditional" way: RSA
// PRIVATE KEY or EC PRIVATE KEY with Proc-Type: 4,ENCRYPTED and DEK-Info: AES-256-CBC.
func LegacyEncryptedPEM(t testing.TB, key any, password string) []byte {
	t.Helper()
	var typ string
	var der []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		typ, der = "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)
	case *ecdsa.PrivateKey:
		var err error
		if der, err = x509.MarshalECPrivateKey(k); err != nil {
			t.Fatalf("encoding an EC key: %v", err)
		}
		typ = "EC PRIVATE KEY"
	default:
		t.Fatalf("a %T has no legacy PEM encoding", key)
	}
	//nolint:staticcheck // Insecure legacy format on purpose: the gateway must read it.
	block, err := x509.EncryptPEMBlock(rand.Reader, typ, der, []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatalf("encrypting a %s: %v", typ, err)
	}
	return pem.EncodeToMemory(block)
}
