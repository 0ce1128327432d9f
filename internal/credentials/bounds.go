package credentials

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
)

// Bounds on what is parsed, so that every parse has a bounded cost whatever a Secret
// holds. A tenant writes its own Secrets; the operator parses them for every gateway it
// serves, and each runner parses the same bytes through this package when it starts and
// on every rotation: without these bounds one tenant's crafted Secret could stall or
// exhaust both. The costly key derivations of encrypted keys are bounded in pkcs8.go.
const (
	// maxPEMSize bounds each PEM input (tls.crt, tls.key, a CA bundle): 1 MiB, the most
	// the API server stores in a Secret or ConfigMap. Mozilla's whole root store is about
	// 220 KB of PEM.
	maxPEMSize = 1 << 20
	// maxChainCertificates bounds the certificates of a chain: real chains hold one to
	// four (the leaf, intermediates, at times the root); 16 is four times that, and every
	// certificate of a chain is compared with the key and sent in each Entra ID assertion.
	maxChainCertificates = 16
	// maxBundleCertificates bounds the certificates of a CA bundle: Mozilla's root store,
	// which distributions ship as ca-certificates, holds about 150; 1000 leaves room for a
	// corporate bundle that adds its own to it.
	maxBundleCertificates = 1000
	// maxRSABits bounds the modulus of an RSA private key: twice 4096, the largest size in
	// common use, and the largest RSA key Go's TLS stack accepts from a peer.
	maxRSABits = 8192
	// maxRSAPrimes bounds the primes of a multi-prime RSA key: OpenSSL makes at most 5.
	maxRSAPrimes = 5
	// rsaPrimeSlack is how many bits a prime of an RSA key may exceed half its modulus.
	// Every tool makes primes of half the modulus (FIPS 186-5 wants them of equal
	// length). Go inverts one prime modulo the other when a key lacks its CRT values, at a
	// cost cubic in the prime's size: a 4.7 KB key with a 32768-bit "prime" took 108 s
	// to refuse; within these bounds a key takes at most about a quarter of a second.
	rsaPrimeSlack = 32
)

// checkPEMSize refuses a PEM input larger than maxPEMSize, with the reason of its object.
func checkPEMSize(what, reason string, data []byte) error {
	if len(data) > maxPEMSize {
		return fail(reason, "the %s is %d bytes; at most %d bytes are parsed", what, len(data), maxPEMSize)
	}
	return nil
}

// oidRSA is rsaEncryption, the algorithm of an RSA key in PKCS#8.
var oidRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// pkcs8Info is RFC 5208's PrivateKeyInfo, as crypto/x509 reads it.
type pkcs8Info struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// pkcs1Numbers are the numbers of an RSA private key (RFC 8017), as crypto/x509 reads
// them.
type pkcs1Numbers struct {
	Version          int
	N                *big.Int
	E                int
	D                *big.Int
	P                *big.Int
	Q                *big.Int
	Dp               *big.Int `asn1:"optional"`
	Dq               *big.Int `asn1:"optional"`
	Qinv             *big.Int `asn1:"optional"`
	AdditionalPrimes []struct {
		Prime, Exp, Coeff *big.Int
	} `asn1:"optional,omitempty"`
}

// checkKeySize refuses an unencrypted RSA key (RSA PRIVATE KEY, or PKCS#8 of an RSA key)
// whose numbers are beyond the bounds above, before crypto/x509 computes with them.
// blockType names the key in the error. Keys that do not parse, and keys of other types,
// are left to the parser, whose cost their size bounds.
func checkKeySize(blockType string, der []byte) error {
	pkcs1 := der
	if blockType != blockRSAKey {
		var info pkcs8Info
		if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algorithm.Algorithm.Equal(oidRSA) {
			return nil
		}
		pkcs1 = info.PrivateKey
	}
	var k pkcs1Numbers
	if _, err := asn1.Unmarshal(pkcs1, &k); err != nil || k.N == nil {
		return nil
	}
	bits := k.N.BitLen()
	if bits > maxRSABits {
		return fail(ReasonPrivateKeyInvalid, "the private key (%s) is a %d-bit RSA key; at most %d bits are supported", blockType, bits, maxRSABits)
	}
	if n := 2 + len(k.AdditionalPrimes); n > maxRSAPrimes {
		return fail(ReasonPrivateKeyInvalid, "the private key (%s) is an RSA key of %d primes; at most %d are supported", blockType, n, maxRSAPrimes)
	}
	primes := []*big.Int{k.P, k.Q}
	for _, a := range k.AdditionalPrimes {
		primes = append(primes, a.Prime)
	}
	for _, p := range primes {
		if p != nil && p.BitLen() > (bits+1)/2+rsaPrimeSlack {
			return fail(ReasonPrivateKeyInvalid, "the private key (%s) has an RSA prime of %d bits for a %d-bit modulus; the primes of an RSA key are half its size", blockType, p.BitLen(), bits)
		}
	}
	return nil
}
