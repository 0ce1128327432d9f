// Package credentials parses and checks the certificate material that the gateway
// authenticates with: a certificate chain and its private key (optionally encrypted), and
// CA bundles. It does no I/O: the operator calls it to validate Secrets before runners
// start, and the runner calls it on the same bytes, so both agree.
//
// Every failure is an *Error whose Reason is stable (a Kubernetes condition reason) and
// whose Detail never contains key material or the password; the caller prefixes the
// Secret's name.
package credentials

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Reasons of an *Error, stable: they are used as Kubernetes condition reasons.
const (
	// ReasonCertificateInvalid: no CERTIFICATE block, or one that does not parse.
	ReasonCertificateInvalid = "CertificateInvalid"
	// ReasonPrivateKeyInvalid: no private key, one that does not parse, or of an
	// unsupported type.
	ReasonPrivateKeyInvalid = "PrivateKeyInvalid"
	// ReasonPrivateKeyMismatch: the key matches no certificate of the chain.
	ReasonPrivateKeyMismatch = "PrivateKeyMismatch"
	// ReasonPrivateKeyPassword: the key is encrypted and the password is missing or wrong.
	ReasonPrivateKeyPassword = "PrivateKeyPasswordWrong"
	// ReasonCertificateExpired: the leaf certificate is not yet valid or has expired.
	ReasonCertificateExpired = "CertificateExpired"
	// ReasonCABundleInvalid: a CA bundle holds no certificate, or one that does not parse.
	ReasonCABundleInvalid = "CABundleInvalid"
)

// Error is a failure of ParseCertificate or ParseCABundle.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Detail says what is wrong, for people. It never contains key material or the
	// password.
	Detail string
}

// Error returns the Detail.
func (e *Error) Error() string { return e.Detail }

func fail(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Certificate is a parsed certificate chain with its private key.
type Certificate struct {
	// Chain is the certificate chain, leaf first (the certificate whose public key is
	// Key's), then the others in the order they were given.
	Chain []*x509.Certificate
	// Key is the leaf's private key: *rsa.PrivateKey or *ecdsa.PrivateKey.
	Key crypto.Signer
	// NotAfter is when the leaf expires.
	NotAfter time.Time
}

// Leaf returns the first certificate of the chain.
func (c *Certificate) Leaf() *x509.Certificate {
	if c == nil || len(c.Chain) == 0 {
		return nil
	}
	return c.Chain[0]
}

// PEM block types.
const (
	blockCertificate  = "CERTIFICATE"
	blockRSAKey       = "RSA PRIVATE KEY"
	blockECKey        = "EC PRIVATE KEY"
	blockPKCS8        = "PRIVATE KEY"
	blockPKCS8Encrypt = "ENCRYPTED PRIVATE KEY"
)

func isKeyBlock(t string) bool {
	switch t {
	case blockRSAKey, blockECKey, blockPKCS8, blockPKCS8Encrypt:
		return true
	}
	return false
}

// ParseCertificate parses a certificate chain and its private key, and checks them at now.
//
// certPEM holds the chain, in any order (the leaf is the certificate whose public key is
// the key's). keyPEM holds the private key; when it is empty, the key is read from certPEM
// (one PEM bundle). Keys may be PKCS#1 RSA, SEC1 EC, PKCS#8, legacy encrypted PEM
// (Proc-Type: 4,ENCRYPTED with DEK-Info) or encrypted PKCS#8 (ENCRYPTED PRIVATE KEY,
// PBES2); password decrypts an encrypted key and is ignored otherwise. Keys must be RSA or
// ECDSA.
//
// Checks, in order: the certificates parse (ReasonCertificateInvalid), the key parses
// (ReasonPrivateKeyInvalid) with the password (ReasonPrivateKeyPassword), the key matches a
// certificate (ReasonPrivateKeyMismatch), the leaf is valid at now
// (ReasonCertificateExpired). Errors are *Error.
//
// Its cost is bounded (see bounds.go and pkcs8.go): larger inputs, longer chains, larger
// RSA keys and costlier key derivations are refused before they are worked on.
func ParseCertificate(certPEM, keyPEM, password []byte, now time.Time) (*Certificate, error) {
	if err := checkPEMSize("certificate PEM", ReasonCertificateInvalid, certPEM); err != nil {
		return nil, err
	}
	if err := checkPEMSize("private key PEM", ReasonPrivateKeyInvalid, keyPEM); err != nil {
		return nil, err
	}
	certs, certKeys, err := splitPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fail(ReasonCertificateInvalid, "the certificate PEM holds no CERTIFICATE block")
	}

	var keyBlock *pem.Block
	if len(bytes.TrimSpace(keyPEM)) > 0 {
		_, keys, err := splitPEM(keyPEM)
		if err != nil {
			return nil, err
		}
		switch len(keys) {
		case 0:
			return nil, fail(ReasonPrivateKeyInvalid, "the private key PEM holds no private key block (RSA PRIVATE KEY, EC PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY)")
		case 1:
			keyBlock = keys[0]
		default:
			return nil, fail(ReasonPrivateKeyInvalid, "the private key PEM holds %d private keys; expected one", len(keys))
		}
	} else {
		switch len(certKeys) {
		case 0:
			return nil, fail(ReasonPrivateKeyInvalid, "no private key: the private key PEM is empty and the certificate PEM holds no private key block")
		case 1:
			keyBlock = certKeys[0]
		default:
			return nil, fail(ReasonPrivateKeyInvalid, "the certificate PEM holds %d private keys; expected one", len(certKeys))
		}
	}

	key, err := parseKey(keyBlock, password)
	if err != nil {
		return nil, err
	}

	leaf := -1
	for i, c := range certs {
		if publicKeysEqual(key.Public(), c.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		if len(certs) == 1 {
			return nil, fail(ReasonPrivateKeyMismatch, "the private key does not match the certificate (subject %q)", certs[0].Subject.String())
		}
		return nil, fail(ReasonPrivateKeyMismatch, "the private key matches none of the %d certificates", len(certs))
	}
	chain := make([]*x509.Certificate, 0, len(certs))
	chain = append(chain, certs[leaf])
	chain = append(chain, certs[:leaf]...)
	chain = append(chain, certs[leaf+1:]...)

	l := chain[0]
	if now.Before(l.NotBefore) {
		return nil, fail(ReasonCertificateExpired, "the certificate (subject %q) is not valid before %s", l.Subject.String(), l.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(l.NotAfter) {
		return nil, fail(ReasonCertificateExpired, "the certificate (subject %q) expired at %s", l.Subject.String(), l.NotAfter.UTC().Format(time.RFC3339))
	}
	return &Certificate{Chain: chain, Key: key, NotAfter: l.NotAfter}, nil
}

// splitPEM decodes every PEM block of data: the certificates (parsed) and the private key
// blocks (not parsed). Other blocks (EC PARAMETERS, ...) are skipped.
func splitPEM(data []byte) ([]*x509.Certificate, []*pem.Block, error) {
	var certs []*x509.Certificate
	var keys []*pem.Block
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == blockCertificate && len(certs) == maxChainCertificates:
			return nil, nil, fail(ReasonCertificateInvalid, "the PEM holds more than %d certificates; a certificate chain holds a few", maxChainCertificates)
		case block.Type == blockCertificate:
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fail(ReasonCertificateInvalid, "certificate %d of the PEM does not parse: %v", len(certs)+1, err)
			}
			certs = append(certs, c)
		case isKeyBlock(block.Type):
			keys = append(keys, block)
		}
	}
	return certs, keys, nil
}

// parseKey parses a private key block, decrypting it with password when it is encrypted.
// Its errors say which format failed, never why in terms of the bytes.
func parseKey(block *pem.Block, password []byte) (crypto.Signer, error) {
	der := block.Bytes
	//nolint:staticcheck // Legacy encrypted PEM is insecure but still issued; we must read it.
	if x509.IsEncryptedPEMBlock(block) {
		if len(password) == 0 {
			return nil, fail(ReasonPrivateKeyPassword, "the private key (%s) is encrypted and no password was given", block.Type)
		}
		//nolint:staticcheck // See above.
		plain, err := x509.DecryptPEMBlock(block, password)
		if err != nil {
			if errors.Is(err, x509.IncorrectPasswordError) {
				return nil, fail(ReasonPrivateKeyPassword, "the private key (%s, encrypted PEM) does not decrypt with the given password", block.Type)
			}
			return nil, fail(ReasonPrivateKeyInvalid, "the private key (%s, encrypted PEM) cannot be decrypted: its Proc-Type or DEK-Info header is invalid or names an unsupported cipher", block.Type)
		}
		if err := checkKeySize(block.Type, plain); err != nil {
			return nil, err
		}
		raw, err := decodePlainKey(block.Type, plain)
		if err != nil {
			// Legacy PEM has only a padding check: a wrong password usually shows up as a
			// key that does not parse after decryption.
			return nil, fail(ReasonPrivateKeyPassword, "the private key (%s, encrypted PEM) does not decrypt with the given password", block.Type)
		}
		return supportedKey(block.Type, raw)
	}
	if block.Type == blockPKCS8Encrypt {
		if len(password) == 0 {
			return nil, fail(ReasonPrivateKeyPassword, "the private key (ENCRYPTED PRIVATE KEY) is encrypted and no password was given")
		}
		return parseEncryptedPKCS8(der, password)
	}
	return parsePlainKey(block.Type, der)
}

// parsePlainKey parses an unencrypted key of the given PEM type.
func parsePlainKey(blockType string, der []byte) (crypto.Signer, error) {
	switch blockType {
	case blockRSAKey, blockECKey, blockPKCS8:
	default:
		return nil, fail(ReasonPrivateKeyInvalid, "the private key block %q is not supported", blockType)
	}
	if err := checkKeySize(blockType, der); err != nil {
		return nil, err
	}
	raw, err := decodePlainKey(blockType, der)
	if err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "the private key (%s) does not parse", blockType)
	}
	return supportedKey(blockType, raw)
}

// decodePlainKey decodes the DER of an unencrypted key of the given PEM type. Its error
// is not meant to be shown: it may describe the bytes.
func decodePlainKey(blockType string, der []byte) (any, error) {
	switch blockType {
	case blockRSAKey:
		return x509.ParsePKCS1PrivateKey(der)
	case blockECKey:
		return x509.ParseECPrivateKey(der)
	case blockPKCS8:
		return x509.ParsePKCS8PrivateKey(der)
	}
	return nil, fmt.Errorf("unsupported block %q", blockType)
}

func supportedKey(blockType string, key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fail(ReasonPrivateKeyInvalid, "the private key (%s) is of type %T: only RSA and ECDSA keys are supported", blockType, key)
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// ParseCABundle parses a PEM bundle of CA certificates. It returns a pool holding them and
// their number. A bundle with no certificate, or with one that does not parse, is an
// *Error with ReasonCABundleInvalid. Blocks of other types are skipped.
func ParseCABundle(pemData []byte) (*x509.CertPool, int, error) {
	certs, err := parseCABundle(pemData)
	if err != nil {
		return nil, 0, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, len(certs), nil
}

// parseCABundle parses every CERTIFICATE block of a bundle: all must parse, and there must
// be one at least; its size and number of certificates are bounded (bounds.go).
func parseCABundle(pemData []byte) ([]*x509.Certificate, error) {
	if err := checkPEMSize("CA bundle", ReasonCABundleInvalid, pemData); err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	rest := pemData
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != blockCertificate {
			continue
		}
		if len(certs) == maxBundleCertificates {
			return nil, fail(ReasonCABundleInvalid, "the CA bundle holds more than %d certificates", maxBundleCertificates)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fail(ReasonCABundleInvalid, "certificate %d of the CA bundle does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fail(ReasonCABundleInvalid, "the CA bundle holds no CERTIFICATE block")
	}
	return certs, nil
}
