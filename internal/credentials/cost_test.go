package credentials_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/youmark/pkcs8"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// A refusal before any costly work takes milliseconds; the work refused would take
// seconds (PBKDF2 at 10 million iterations: 1.8 s; scrypt N=2^20, r=2: 256 MiB and about
// a second; p=1024: several seconds; a 32768-bit RSA prime: 108 s). The bound is generous
// for a loaded machine and still far below the work.
const refusedWithin = time.Second

// expectRefused parses a key and expects a refusal with reason and every detail, within
// refusedWithin.
func expectRefused(t *testing.T, cert, key []byte, reason string, details ...string) {
	t.Helper()
	g := NewWithT(t)
	start := time.Now()
	c, err := credentials.ParseCertificate(cert, key, []byte(password), now)
	took := time.Since(start)
	g.Expect(c).To(BeNil())
	var ce *credentials.Error
	g.Expect(errors.As(err, &ce)).To(BeTrue(), "error %v is a *credentials.Error", err)
	t.Logf("refused in %s: %s: %s", took, ce.Reason, ce.Detail)
	g.Expect(ce.Reason).To(Equal(reason), ce.Detail)
	for _, d := range details {
		g.Expect(ce.Detail).To(ContainSubstring(d))
	}
	g.Expect(took).To(BeNumerically("<", refusedWithin), "refused before the costly work")
}

func TestCostlyKeyDerivationsAreRefusedAtOnce(t *testing.T) {
	material(t)
	cases := []struct {
		name    string
		kdf     algorithmIdentifier
		details []string
	}{
		// 256 MiB of memory: OOM-killed the operator (limit 256Mi) in a crash loop.
		{"scrypt N=2^20 r=2", scryptParams(1<<20, 2, 1), []string{
			"N=1048576, r=2, p=1", "268436224 bytes of memory (128·r·(N+p+2)), over the cap of 33554432 (32 MiB)",
			"work N·r·p of 2097152, over the cap of 1048576"}},
		// Little memory, a thousand times the work: held every reconcile worker.
		{"scrypt p=1024", scryptParams(1<<14, 8, 1024), []string{
			"N=16384, r=8, p=1024", "work N·r·p of 134217728, over the cap of 1048576"}},
		{"scrypt p over the work cap alone", scryptParams(2, 1, 1<<21), []string{"p=2097152", "over the cap of 1048576 on N·r·p"}},
		{"scrypt N=2^15 r=8: over OpenSSL's own memory limit", scryptParams(1<<15, 8, 1), []string{"bytes of memory", "over the cap of 33554432"}},
		{"scrypt N not a power of 2", scryptParams(1000, 8, 1), []string{"N must be a power of 2"}},
		// 1.8 s per parse with SHA-256; this one is SHA-1, slower still.
		{"PBKDF2 10,000,000 iterations", pbkdf2Params(10_000_000), []string{"10000000 PBKDF2 iterations, over the cap of 2000000"}},
		{"PBKDF2 0 iterations", pbkdf2Params(0), []string{"0 PBKDF2 iterations"}},
		{"PBKDF2 with an unsupported function", pbkdf2WithPRF(2048, asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}), []string{"unsupported PBKDF2 function 1.2.840.113549.2.11"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectRefused(t, testcerts.CertPEM(rsaLeaf), handmadePKCS8PEM(tc.kdf, 16), credentials.ReasonPrivateKeyInvalid, tc.details...)
		})
	}
}

func TestKeysAsToolsWriteThemParse(t *testing.T) {
	material(t)
	pbkdf2 := func(iterations int, hash crypto.Hash) *pkcs8.Opts {
		return &pkcs8.Opts{Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: iterations, HMACHash: hash}}
	}
	scrypt := func(n, r, p int) *pkcs8.Opts {
		return &pkcs8.Opts{Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.ScryptOpts{SaltSize: 16, CostParameter: n, BlockSize: r, ParallelizationParameter: p}}
	}
	for name, opts := range map[string]*pkcs8.Opts{
		"OpenSSL pkcs8 -topk8 -v2 aes-256-cbc (PBKDF2-SHA256, 2048)": pbkdf2(2048, crypto.SHA256),
		"OpenSSL 1.0 (PBKDF2-SHA1, 2048)":                            pbkdf2(2048, crypto.SHA1),
		"OpenSSL pkcs8 -topk8 -scrypt (N=16384, r=8, p=1)":           scrypt(1<<14, 8, 1),
		"OWASP 2023 (PBKDF2-SHA256, 600,000)":                        pbkdf2(600_000, crypto.SHA256),
		"at the PBKDF2 cap (2,000,000)":                              pbkdf2(2_000_000, crypto.SHA256),
		"at the scrypt work cap (N=16384, r=8, p=8)":                 scrypt(1<<14, 8, 8),
		"near the scrypt memory cap (N=16384, r=15, p=1)":            scrypt(1<<14, 15, 1),
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			key := testcerts.EncryptedPKCS8PEM(t, rsaKey, password, opts)
			start := time.Now()
			c, err := credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), key, []byte(password), now)
			t.Logf("%s: parsed in %s", name, time.Since(start))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(c.Chain[0].Equal(rsaLeaf)).To(BeTrue())

			_, err = credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), key, []byte("wrong"), now)
			var ce *credentials.Error
			g.Expect(errors.As(err, &ce)).To(BeTrue())
			g.Expect(ce.Reason).To(Equal(credentials.ReasonPrivateKeyPassword), "a wrong password is still told apart")
		})
	}
}

// rsaNumbers is an RSA private key in PKCS#1 without its CRT values, which Go then
// computes: at a cost cubic in the size of P.
type rsaNumbers struct {
	Version    int
	N          *big.Int
	E          int
	D, P, Q    *big.Int
	Additional []additionalPrime `asn1:"optional,omitempty"`
}

type additionalPrime struct{ Prime, Exp, Coeff *big.Int }

func oddNumber(t *testing.T, bits int) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	if err != nil {
		t.Fatal(err)
	}
	return n.SetBit(n, 0, 1).SetBit(n, bits-1, 1)
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pkcs8Of wraps a PKCS#1 RSA key in PKCS#8 (rsaEncryption).
func pkcs8Of(t *testing.T, pkcs1 []byte) []byte {
	return marshal(t, struct {
		Version   int
		Algorithm algorithmIdentifier
		Key       []byte
	}{0, algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.RawValue{Tag: asn1.TagNull}}, pkcs1})
}

// encryptedPKCS8Of encrypts PKCS#8 DER as the library would (PBES2, PBKDF2-SHA1 2048,
// AES-256-CBC), whatever the key holds.
func encryptedPKCS8Of(t *testing.T, plain []byte) []byte {
	t.Helper()
	kdf := pbkdf2Params(2048)
	key, _, err := pkcs8.PBKDF2Opts{IterationCount: 2048, HMACHash: crypto.SHA1}.DeriveKey([]byte(password), []byte("saltsalt"), 32)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	data, err := pkcs8.AES256CBC.Encrypt(key, iv, plain)
	if err != nil {
		t.Fatal(err)
	}
	enc := algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, Parameters: rawOf(iv)}
	params := struct{ KDF, Enc algorithmIdentifier }{kdf, enc}
	return encryptedPEM(encryptedPrivateKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: rawOf(params)},
		Data:      data,
	})
}

func TestCostlyRSAKeysAreRefusedAtOnce(t *testing.T) {
	material(t)
	// A 4.7 KB key whose first "prime" has 32768 bits: Go spent 108 s refusing it.
	hugePrime := marshal(t, rsaNumbers{N: rsaKey.N, E: rsaKey.E, D: rsaKey.D, P: oddNumber(t, 32768), Q: rsaKey.Primes[1]})
	primeDetail := "has an RSA prime of 32768 bits for a 2048-bit modulus"
	// A 16384-bit modulus.
	hugeModulus := marshal(t, rsaNumbers{N: oddNumber(t, 16384), E: 65537, D: oddNumber(t, 16000), P: oddNumber(t, 8192), Q: oddNumber(t, 8192)})
	// Six primes.
	var extra []additionalPrime
	for range 4 {
		extra = append(extra, additionalPrime{oddNumber(t, 256), big.NewInt(3), big.NewInt(5)})
	}
	manyPrimes := marshal(t, rsaNumbers{N: rsaKey.N, E: rsaKey.E, D: rsaKey.D, P: rsaKey.Primes[0], Q: rsaKey.Primes[1], Additional: extra})

	legacy, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", hugePrime, []byte(password), x509.PEMCipherAES256) //nolint:staticcheck // the format under test
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key    []byte
		detail string
	}{
		"RSA PRIVATE KEY with a huge prime":        {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: hugePrime}), "(RSA PRIVATE KEY) " + primeDetail},
		"PRIVATE KEY with a huge prime":            {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8Of(t, hugePrime)}), "(PRIVATE KEY) " + primeDetail},
		"ENCRYPTED PRIVATE KEY with a huge prime":  {encryptedPKCS8Of(t, pkcs8Of(t, hugePrime)), "(ENCRYPTED PRIVATE KEY) " + primeDetail},
		"legacy encrypted PEM with a huge prime":   {pem.EncodeToMemory(legacy), "(RSA PRIVATE KEY) " + primeDetail},
		"RSA PRIVATE KEY with a 16384-bit modulus": {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: hugeModulus}), "16384-bit RSA key; at most 8192 bits"},
		"RSA PRIVATE KEY of six primes":            {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: manyPrimes}), "RSA key of 6 primes; at most 5"},
		"ENCRYPTED PRIVATE KEY of 16384 bits":      {encryptedPKCS8Of(t, pkcs8Of(t, hugeModulus)), "16384-bit RSA key"},
	} {
		t.Run(name, func(t *testing.T) {
			expectRefused(t, testcerts.CertPEM(rsaLeaf), tc.key, credentials.ReasonPrivateKeyInvalid, tc.detail)
		})
	}

	t.Run("the encryption itself is sound: the same key, well formed, parses", func(t *testing.T) {
		g := NewWithT(t)
		c, err := credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), encryptedPKCS8Of(t, testcerts.PKCS8DER(t, rsaKey)), []byte(password), now)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(c.Chain[0].Equal(rsaLeaf)).To(BeTrue())
	})
}

func TestInputSizesAreBounded(t *testing.T) {
	material(t)
	g := NewWithT(t)
	huge := bytes.Repeat([]byte("# padding\n"), 110_000) // 1.1 MB
	expectRefused(t, concat(testcerts.CertPEM(rsaLeaf), huge), testcerts.PKCS1PEM(rsaKey), credentials.ReasonCertificateInvalid, "the certificate PEM is 11", "at most 1048576 bytes are parsed")
	expectRefused(t, testcerts.CertPEM(rsaLeaf), concat(testcerts.PKCS1PEM(rsaKey), huge), credentials.ReasonPrivateKeyInvalid, "the private key PEM is 11", "at most 1048576 bytes")

	chain := func(n int) []byte {
		var b []byte
		b = append(b, testcerts.CertPEM(rsaLeaf)...)
		for range n - 1 {
			b = append(b, testcerts.CertPEM(caCert)...)
		}
		return b
	}
	_, err := credentials.ParseCertificate(chain(16), testcerts.PKCS1PEM(rsaKey), nil, now)
	g.Expect(err).NotTo(HaveOccurred(), "a chain of 16 certificates parses")
	expectRefused(t, chain(17), testcerts.PKCS1PEM(rsaKey), credentials.ReasonCertificateInvalid, "more than 16 certificates")

	bundle := bytes.Repeat(testcerts.CertPEM(caCert), 1000)
	_, n, err := credentials.ParseCABundle(bundle)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(Equal(1000))
	_, _, err = credentials.ParseCABundle(concat(bundle, testcerts.CertPEM(otherCA)))
	g.Expect(err).To(MatchError(ContainSubstring("the CA bundle holds more than 1000 certificates")))
	_, err = credentials.TLSConfig(credentials.TLSMaterial{CABundle: concat(testcerts.CertPEM(caCert), huge)}, now)
	var ce *credentials.Error
	g.Expect(errors.As(err, &ce)).To(BeTrue())
	g.Expect(ce.Reason).To(Equal(credentials.ReasonCABundleInvalid))
	g.Expect(ce.Detail).To(ContainSubstring("the CA bundle is 1100"))
}

// pbkdf2WithPRF is PBKDF2 parameters that name a pseudo-random function.
func pbkdf2WithPRF(iterations int, prf asn1.ObjectIdentifier) algorithmIdentifier {
	return algorithmIdentifier{
		Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12},
		Parameters: rawOf(struct {
			Salt       []byte
			Iterations int
			PRF        algorithmIdentifier
		}{[]byte("saltsalt"), iterations, algorithmIdentifier{Algorithm: prf, Parameters: asn1.RawValue{Tag: asn1.TagNull}}}),
	}
}
