package credentials_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/youmark/pkcs8"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

const password = "correct horse battery staple"

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Keys are costly to generate (RSA): make each once.
var (
	keysOnce          sync.Once
	rsaKey, rsaKey2   *rsa.PrivateKey
	ecKey, caKey      *ecdsa.PrivateKey
	edKey             ed25519.PrivateKey
	caCert            *x509.Certificate
	rsaLeaf, ecLeaf   *x509.Certificate
	expiredLeaf       *x509.Certificate
	notYetLeaf        *x509.Certificate
	intermediateCert  *x509.Certificate
	intermediateKey   *ecdsa.PrivateKey
	chainLeaf         *x509.Certificate // signed by the intermediate, key rsaKey
	edLeaf            *x509.Certificate
	otherCA, otherCA2 *x509.Certificate
)

func material(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey, rsaKey2 = testcerts.RSAKey(t), testcerts.RSAKey(t)
		ecKey, caKey, intermediateKey = testcerts.ECDSAKey(t), testcerts.ECDSAKey(t), testcerts.ECDSAKey(t)
		var err error
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}

		caCert = testcerts.Issue(t, "Test Root CA", caKey.Public(), nil, caKey, true, now.Add(-time.Hour), now.Add(24*time.Hour))
		intermediateCert = testcerts.Issue(t, "Test Intermediate CA", intermediateKey.Public(), caCert, caKey, true, now.Add(-time.Hour), now.Add(24*time.Hour))
		rsaLeaf = testcerts.Issue(t, "gateway-rsa", rsaKey.Public(), caCert, caKey, false, now.Add(-time.Hour), now.Add(time.Hour))
		ecLeaf = testcerts.Issue(t, "gateway-ec", ecKey.Public(), caCert, caKey, false, now.Add(-time.Hour), now.Add(time.Hour))
		expiredLeaf = testcerts.Issue(t, "gateway-expired", rsaKey.Public(), caCert, caKey, false, now.Add(-48*time.Hour), now.Add(-time.Minute))
		notYetLeaf = testcerts.Issue(t, "gateway-not-yet", rsaKey.Public(), caCert, caKey, false, now.Add(time.Minute), now.Add(48*time.Hour))
		chainLeaf = testcerts.Issue(t, "gateway-chain", rsaKey.Public(), intermediateCert, intermediateKey, false, now.Add(-time.Hour), now.Add(time.Hour))
		edLeaf = testcerts.Issue(t, "gateway-ed25519", edKey.Public(), caCert, caKey, false, now.Add(-time.Hour), now.Add(time.Hour))
		otherCA = testcerts.Issue(t, "Other CA 1", caKey.Public(), nil, caKey, true, now.Add(-time.Hour), now.Add(time.Hour))
		otherCA2 = testcerts.Issue(t, "Other CA 2", intermediateKey.Public(), nil, intermediateKey, true, now.Add(-time.Hour), now.Add(time.Hour))
	})
	if caCert == nil {
		t.Fatal("the test material could not be made")
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// secretsOf returns the strings no error may contain: the password and base64 runs of
// every private key's DER (whole and in pieces, as PEM lines).
func secretsOf(t *testing.T) []string {
	t.Helper()
	s := []string{password}
	for _, k := range []any{rsaKey, rsaKey2, ecKey, edKey} {
		b64 := base64.StdEncoding.EncodeToString(testcerts.PKCS8DER(t, k))
		// Skip the first line or so (a common ASN.1 prefix); any 40-char run of the rest.
		for i := 64; i+40 <= len(b64); i += 40 {
			s = append(s, b64[i:i+40])
		}
	}
	for _, k := range []*rsa.PrivateKey{rsaKey, rsaKey2} {
		s = append(s, k.D.String(), k.D.Text(16))
	}
	ecRaw, err := ecKey.Bytes()
	if err != nil {
		panic(err)
	}
	d := new(big.Int).SetBytes(ecRaw)
	s = append(s, hex.EncodeToString(ecRaw), d.String(), d.Text(16))
	return s
}

func TestParseCertificate(t *testing.T) {
	material(t)
	type want struct {
		reason string
		detail string // substring
		leaf   *x509.Certificate
		chain  int
	}
	cases := []struct {
		name     string
		cert     []byte
		key      []byte
		password string
		want     want
	}{
		// Formats that parse.
		{"RSA PKCS#1", testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), "", want{leaf: rsaLeaf, chain: 1}},
		{"RSA PKCS#8", testcerts.CertPEM(rsaLeaf), testcerts.PKCS8PEM(t, rsaKey), "", want{leaf: rsaLeaf, chain: 1}},
		{"EC SEC1", testcerts.CertPEM(ecLeaf), testcerts.SEC1PEM(t, ecKey), "", want{leaf: ecLeaf, chain: 1}},
		{"EC SEC1 with EC PARAMETERS", testcerts.CertPEM(ecLeaf), concat(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), testcerts.SEC1PEM(t, ecKey)), "", want{leaf: ecLeaf, chain: 1}},
		{"EC PKCS#8", testcerts.CertPEM(ecLeaf), testcerts.PKCS8PEM(t, ecKey), "", want{leaf: ecLeaf, chain: 1}},
		{"password ignored for a plain key", testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), password, want{leaf: rsaLeaf, chain: 1}},
		{"legacy encrypted RSA", testcerts.CertPEM(rsaLeaf), testcerts.LegacyEncryptedPEM(t, rsaKey, password), password, want{leaf: rsaLeaf, chain: 1}},
		{"legacy encrypted EC", testcerts.CertPEM(ecLeaf), testcerts.LegacyEncryptedPEM(t, ecKey, password), password, want{leaf: ecLeaf, chain: 1}},
		{"encrypted PKCS#8 RSA", testcerts.CertPEM(rsaLeaf), testcerts.EncryptedPKCS8PEM(t, rsaKey, password, nil), password, want{leaf: rsaLeaf, chain: 1}},
		{"encrypted PKCS#8 EC", testcerts.CertPEM(ecLeaf), testcerts.EncryptedPKCS8PEM(t, ecKey, password, nil), password, want{leaf: ecLeaf, chain: 1}},
		{"encrypted PKCS#8 AES-128, PBKDF2-SHA1", testcerts.CertPEM(ecLeaf), testcerts.EncryptedPKCS8PEM(t, ecKey, password, &pkcs8.Opts{Cipher: pkcs8.AES128CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 8, IterationCount: 2048, HMACHash: crypto.SHA1}}), password, want{leaf: ecLeaf, chain: 1}},
		{"encrypted PKCS#8 scrypt", testcerts.CertPEM(ecLeaf), testcerts.EncryptedPKCS8PEM(t, ecKey, password, &pkcs8.Opts{Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.ScryptOpts{SaltSize: 16, CostParameter: 1 << 10, BlockSize: 8, ParallelizationParameter: 1}}), password, want{leaf: ecLeaf, chain: 1}},

		// One PEM bundle (key in tls.crt), in any order.
		{"bundle: cert then key", concat(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey)), nil, "", want{leaf: rsaLeaf, chain: 1}},
		{"bundle: key then chain", concat(testcerts.PKCS8PEM(t, rsaKey), testcerts.CertPEM(chainLeaf, intermediateCert)), nil, "", want{leaf: chainLeaf, chain: 2}},
		{"bundle: encrypted key", concat(testcerts.CertPEM(chainLeaf, intermediateCert), testcerts.EncryptedPKCS8PEM(t, rsaKey, password, nil)), nil, password, want{leaf: chainLeaf, chain: 2}},
		{"tls.key given: key blocks of tls.crt are not used", concat(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey2)), testcerts.PKCS1PEM(rsaKey), "", want{leaf: rsaLeaf, chain: 1}},

		// Chain order.
		{"chain leaf first", testcerts.CertPEM(chainLeaf, intermediateCert, caCert), testcerts.PKCS1PEM(rsaKey), "", want{leaf: chainLeaf, chain: 3}},
		{"chain leaf last", testcerts.CertPEM(caCert, intermediateCert, chainLeaf), testcerts.PKCS1PEM(rsaKey), "", want{leaf: chainLeaf, chain: 3}},
		{"chain leaf in the middle", testcerts.CertPEM(intermediateCert, chainLeaf, caCert), testcerts.PKCS1PEM(rsaKey), "", want{leaf: chainLeaf, chain: 3}},

		// CertificateInvalid.
		{"no certificate", nil, testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateInvalid, detail: "no CERTIFICATE block"}},
		{"not PEM", []byte("hello"), testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateInvalid, detail: "no CERTIFICATE block"}},
		{"only a key in tls.crt", testcerts.PKCS1PEM(rsaKey), nil, "", want{reason: credentials.ReasonCertificateInvalid, detail: "no CERTIFICATE block"}},
		{"certificate does not parse", concat(testcerts.CertPEM(rsaLeaf), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})), testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateInvalid, detail: "certificate 2 of the PEM does not parse"}},

		// PrivateKeyInvalid.
		{"no key anywhere", testcerts.CertPEM(rsaLeaf), nil, "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "no private key"}},
		{"tls.key without a key block", testcerts.CertPEM(rsaLeaf), testcerts.CertPEM(caCert), "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "no private key block"}},
		{"two keys in tls.key", testcerts.CertPEM(rsaLeaf), concat(testcerts.PKCS1PEM(rsaKey), testcerts.PKCS1PEM(rsaKey2)), "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "2 private keys"}},
		{"two keys in the bundle", concat(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), testcerts.SEC1PEM(t, ecKey)), nil, "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "2 private keys"}},
		{"key does not parse", testcerts.CertPEM(rsaLeaf), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("garbage")}), "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "(RSA PRIVATE KEY) does not parse"}},
		{"PKCS#8 key under an RSA header", testcerts.CertPEM(rsaLeaf), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: testcerts.PKCS8DER(t, rsaKey)}), "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "does not parse"}},
		{"Ed25519 unsupported", testcerts.CertPEM(edLeaf), testcerts.PKCS8PEM(t, edKey), "", want{reason: credentials.ReasonPrivateKeyInvalid, detail: "only RSA and ECDSA"}},
		{"Ed25519 encrypted unsupported", testcerts.CertPEM(edLeaf), testcerts.EncryptedPKCS8PEM(t, edKey, password, nil), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "only RSA and ECDSA"}},
		{"encrypted PKCS#8 garbage", testcerts.CertPEM(rsaLeaf), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("garbage")}), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "does not parse"}},
		{"encrypted PKCS#8 PBES1", testcerts.CertPEM(rsaLeaf), pbes1PEM(), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "only PBES2"}},
		{"encrypted PKCS#8 bad IV length", testcerts.CertPEM(rsaLeaf), handmadePKCS8PEM(pbkdf2Params(2048), 5), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "wrong length"}},
		{"encrypted PKCS#8 too many iterations", testcerts.CertPEM(ecLeaf), handmadePKCS8PEM(pbkdf2Params(20_000_000), 16), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "PBKDF2 iterations"}},
		{"encrypted PKCS#8 scrypt too costly", testcerts.CertPEM(ecLeaf), handmadePKCS8PEM(scryptParams(1<<22, 8, 1), 16), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "scrypt"}},
		{"encrypted PKCS#8 junk data", testcerts.CertPEM(rsaLeaf), handmadePKCS8PEM(pbkdf2Params(2048), 16), password, want{reason: credentials.ReasonPrivateKeyPassword, detail: "does not decrypt"}},
		{"legacy PEM with a bad DEK-Info", testcerts.CertPEM(rsaLeaf), badDEKInfoPEM(), password, want{reason: credentials.ReasonPrivateKeyInvalid, detail: "DEK-Info"}},

		// PrivateKeyPasswordWrong.
		{"legacy: no password", testcerts.CertPEM(rsaLeaf), testcerts.LegacyEncryptedPEM(t, rsaKey, password), "", want{reason: credentials.ReasonPrivateKeyPassword, detail: "no password was given"}},
		{"legacy: wrong password", testcerts.CertPEM(rsaLeaf), testcerts.LegacyEncryptedPEM(t, rsaKey, password), "wrong", want{reason: credentials.ReasonPrivateKeyPassword, detail: "does not decrypt"}},
		{"legacy EC: wrong password", testcerts.CertPEM(ecLeaf), testcerts.LegacyEncryptedPEM(t, ecKey, password), "wrong", want{reason: credentials.ReasonPrivateKeyPassword, detail: "does not decrypt"}},
		{"PKCS#8: no password", testcerts.CertPEM(rsaLeaf), testcerts.EncryptedPKCS8PEM(t, rsaKey, password, nil), "", want{reason: credentials.ReasonPrivateKeyPassword, detail: "no password was given"}},
		{"PKCS#8: wrong password", testcerts.CertPEM(rsaLeaf), testcerts.EncryptedPKCS8PEM(t, rsaKey, password, nil), "wrong", want{reason: credentials.ReasonPrivateKeyPassword, detail: "does not decrypt"}},
		{"PKCS#8 EC: wrong password", testcerts.CertPEM(ecLeaf), testcerts.EncryptedPKCS8PEM(t, ecKey, password, nil), password + "x", want{reason: credentials.ReasonPrivateKeyPassword, detail: "does not decrypt"}},
		{"bundle: wrong password", concat(testcerts.CertPEM(rsaLeaf), testcerts.EncryptedPKCS8PEM(t, rsaKey, password, nil)), nil, "wrong", want{reason: credentials.ReasonPrivateKeyPassword}},

		// PrivateKeyMismatch.
		{"key of another certificate", testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey2), "", want{reason: credentials.ReasonPrivateKeyMismatch, detail: `does not match the certificate (subject "CN=gateway-rsa")`}},
		{"EC key for an RSA certificate", testcerts.CertPEM(rsaLeaf), testcerts.SEC1PEM(t, ecKey), "", want{reason: credentials.ReasonPrivateKeyMismatch}},
		{"key matches no certificate of the chain", testcerts.CertPEM(chainLeaf, intermediateCert), testcerts.PKCS1PEM(rsaKey2), "", want{reason: credentials.ReasonPrivateKeyMismatch, detail: "none of the 2 certificates"}},
		{"the key of the intermediate makes it the leaf", testcerts.CertPEM(chainLeaf, intermediateCert), testcerts.SEC1PEM(t, intermediateKey), "", want{leaf: intermediateCert, chain: 2}},

		// CertificateExpired.
		{"expired", testcerts.CertPEM(expiredLeaf), testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateExpired, detail: "expired at"}},
		{"not yet valid", testcerts.CertPEM(notYetLeaf), testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateExpired, detail: "not valid before"}},
		{"expired leaf, valid CA", testcerts.CertPEM(caCert, expiredLeaf), testcerts.PKCS1PEM(rsaKey), "", want{reason: credentials.ReasonCertificateExpired, detail: "gateway-expired"}},
	}
	secrets := secretsOf(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var pw []byte
			if tc.password != "" {
				pw = []byte(tc.password)
			}
			c, err := credentials.ParseCertificate(tc.cert, tc.key, pw, now)
			if tc.want.reason != "" {
				g.Expect(c).To(BeNil())
				var ce *credentials.Error
				g.Expect(errors.As(err, &ce)).To(BeTrue(), "error %v is a *credentials.Error", err)
				t.Logf("%s: %s", ce.Reason, ce.Detail)
				g.Expect(ce.Reason).To(Equal(tc.want.reason), ce.Detail)
				g.Expect(ce.Error()).To(Equal(ce.Detail))
				g.Expect(ce.Detail).To(ContainSubstring(tc.want.detail))
				for _, s := range secrets {
					g.Expect(ce.Detail).NotTo(ContainSubstring(s))
				}
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(c.Chain).To(HaveLen(tc.want.chain))
			g.Expect(c.Chain[0].Equal(tc.want.leaf)).To(BeTrue(), "leaf is %s", c.Chain[0].Subject)
			g.Expect(c.Leaf()).To(BeIdenticalTo(c.Chain[0]))
			g.Expect(c.NotAfter).To(Equal(tc.want.leaf.NotAfter))
			g.Expect(c.Key.Public()).To(Satisfy(func(k crypto.PublicKey) bool {
				return k.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want.leaf.PublicKey)
			}))
		})
	}
}

func TestParseCertificateKeepsChainOrder(t *testing.T) {
	material(t)
	g := NewWithT(t)
	c, err := credentials.ParseCertificate(testcerts.CertPEM(caCert, intermediateCert, chainLeaf), testcerts.PKCS1PEM(rsaKey), nil, now)
	g.Expect(err).NotTo(HaveOccurred())
	// Leaf first, then the others as given.
	g.Expect(c.Chain[0].Equal(chainLeaf)).To(BeTrue())
	g.Expect(c.Chain[1].Equal(caCert)).To(BeTrue())
	g.Expect(c.Chain[2].Equal(intermediateCert)).To(BeTrue())
	g.Expect(c.Key).To(BeAssignableToTypeOf(&rsa.PrivateKey{}))
}

func TestParseCertificateExpiryBoundaries(t *testing.T) {
	material(t)
	g := NewWithT(t)
	_, err := credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), nil, rsaLeaf.NotAfter)
	g.Expect(err).NotTo(HaveOccurred(), "valid up to and including NotAfter")
	_, err = credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), nil, rsaLeaf.NotAfter.Add(time.Second))
	g.Expect(err).To(MatchError(ContainSubstring("expired")))
	_, err = credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), testcerts.PKCS1PEM(rsaKey), nil, rsaLeaf.NotBefore)
	g.Expect(err).NotTo(HaveOccurred(), "valid from NotBefore")
}

func TestParseCABundle(t *testing.T) {
	material(t)
	cases := []struct {
		name   string
		data   []byte
		n      int
		detail string
	}{
		{"one", testcerts.CertPEM(caCert), 1, ""},
		{"three, with a key and comments skipped", concat([]byte("# corporate CAs\n"), testcerts.CertPEM(caCert, otherCA), testcerts.PKCS1PEM(rsaKey), testcerts.CertPEM(otherCA2)), 3, ""},
		{"empty", nil, 0, "no CERTIFICATE block"},
		{"not PEM", []byte("-----BEGIN NOTHING"), 0, "no CERTIFICATE block"},
		{"only a key", testcerts.PKCS1PEM(rsaKey), 0, "no CERTIFICATE block"},
		{"bad certificate", concat(testcerts.CertPEM(caCert), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}})), 0, "certificate 2 of the CA bundle does not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			pool, n, err := credentials.ParseCABundle(tc.data)
			if tc.detail != "" {
				var ce *credentials.Error
				g.Expect(errors.As(err, &ce)).To(BeTrue())
				g.Expect(ce.Reason).To(Equal(credentials.ReasonCABundleInvalid))
				g.Expect(ce.Detail).To(ContainSubstring(tc.detail))
				g.Expect(pool).To(BeNil())
				for _, s := range secretsOf(t) {
					g.Expect(ce.Detail).NotTo(ContainSubstring(s))
				}
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(n).To(Equal(tc.n))
			// The pool verifies a leaf that the CA signed.
			_, err = rsaLeaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			g.Expect(err).NotTo(HaveOccurred())
		})
	}
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm algorithmIdentifier
	Data      []byte
}

func rawOf(v any) asn1.RawValue {
	der, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: der}
}

func encryptedPEM(info encryptedPrivateKeyInfo) []byte {
	der, err := asn1.Marshal(info)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// pbes1PEM is an ENCRYPTED PRIVATE KEY with a PBES1 algorithm (pbeWithSHAAnd3-KeyTripleDES-CBC),
// which is refused as unsupported.
func pbes1PEM() []byte {
	params := struct {
		Salt       []byte
		Iterations int
	}{[]byte("saltsalt"), 2048}
	return encryptedPEM(encryptedPrivateKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}, Parameters: rawOf(params)},
		Data:      make([]byte, 64),
	})
}

func pbkdf2Params(iterations int) algorithmIdentifier {
	return algorithmIdentifier{
		Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12},
		Parameters: rawOf(struct {
			Salt       []byte
			Iterations int
		}{[]byte("saltsalt"), iterations}),
	}
}

func scryptParams(n, r, p int) algorithmIdentifier {
	return algorithmIdentifier{
		Algorithm: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11},
		Parameters: rawOf(struct {
			Salt    []byte
			N, R, P int
		}{[]byte("saltsalt"), n, r, p}),
	}
}

// handmadePKCS8PEM is a PBES2 (AES-256-CBC) ENCRYPTED PRIVATE KEY with the given KDF and
// IV length, and junk data: for the checks made before any decryption (the library would
// panic on a wrong IV length, or run for long on a costly KDF).
func handmadePKCS8PEM(kdf algorithmIdentifier, ivLen int) []byte {
	enc := algorithmIdentifier{
		Algorithm:  asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42},
		Parameters: rawOf(make([]byte, ivLen)),
	}
	params := struct{ KDF, Enc algorithmIdentifier }{kdf, enc}
	return encryptedPEM(encryptedPrivateKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: rawOf(params)},
		Data:      make([]byte, 64),
	})
}

// badDEKInfoPEM is a legacy encrypted key whose DEK-Info names no known cipher.
func badDEKInfoPEM() []byte {
	block := &pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "CHACHA-9000,00112233445566778899AABBCCDDEEFF"},
		Bytes:   bytes.Repeat([]byte{1}, 64),
	}
	return pem.EncodeToMemory(block)
}

func TestErrorDetailNeverHasSecrets(t *testing.T) {
	material(t)
	g := NewWithT(t)
	// A key block whose bytes are the base64 of the real key is refused without echoing it.
	keyB64 := base64.StdEncoding.EncodeToString(testcerts.PKCS8DER(t, rsaKey))
	weird := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte(keyB64)})
	_, err := credentials.ParseCertificate(testcerts.CertPEM(rsaLeaf), weird, []byte(password), now)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).NotTo(ContainSubstring(keyB64[64:104]))
	g.Expect(strings.Contains(err.Error(), password)).To(BeFalse())
}
