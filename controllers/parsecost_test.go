package controllers_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/youmark/pkcs8"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// One tenant's costly keys must not hold up another tenant's gateway. Before parsing ran
// off the reconcile workers with caps, four gateways with slow keys delayed another
// tenant's gateway from 0.8 s to 85 s, and a key asking scrypt for 256 MiB OOM-killed the
// operator.
var _ = Describe("The cost of checking credentials", func() {
	const password = "k3y-pa55word"

	It("is bounded: costly keys are refused or checked aside, and another tenant's gateway is ready at once", func() {
		good := testcerts.NewClientCert(GinkgoTB(), testcerts.CertOptions{})
		attacker := newNamespace()

		By("creating gateways whose keys the caps refuse from their parameters alone")
		refused := map[string][]byte{
			"scrypt-256mib":  costlyKeyPEM(oidScrypt, scryptParameters{Salt: []byte("saltsalt"), N: 1 << 20, R: 2, P: 1}),
			"scrypt-p1024":   costlyKeyPEM(oidScrypt, scryptParameters{Salt: []byte("saltsalt"), N: 1 << 14, R: 8, P: 1024}),
			"pbkdf2-10m":     costlyKeyPEM(oidPBKDF2, pbkdf2Parameters{Salt: []byte("saltsalt"), Iterations: 10_000_000}),
			"rsa-huge-prime": hugePrimeKeyPEM(good),
		}
		refusedKeys := map[string]client.ObjectKey{}
		for name, key := range refused {
			refusedKeys[name] = createCostGateway(attacker, name, good.CertPEM, key, password)
		}

		By("creating gateways whose keys are as slow as the caps allow, in the same namespace")
		atCaps := map[string]*pkcs8.Opts{
			"pbkdf2-sha1-2m":   {Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 2_000_000, HMACHash: crypto.SHA1}},
			"pbkdf2-sha256-2m": {Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 2_000_000, HMACHash: crypto.SHA256}},
			"scrypt-work-cap":  {Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.ScryptOpts{SaltSize: 16, CostParameter: 1 << 14, BlockSize: 8, ParallelizationParameter: 8}},
		}
		slowKeys := map[string][]byte{}
		for name, opts := range atCaps {
			slowKeys[name] = testcerts.EncryptedPKCS8PEM(GinkgoTB(), good.Key, password, opts)
		}
		var slow []client.ObjectKey
		for name, key := range slowKeys {
			slow = append(slow, createCostGateway(attacker, name, good.CertPEM, key, password))
		}

		By("creating another tenant's gateway, with a key at OpenSSL's defaults")
		normalKey := testcerts.EncryptedPKCS8PEM(GinkgoTB(), good.Key, password, &pkcs8.Opts{
			Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 2048, HMACHash: crypto.SHA256}})
		created := time.Now()
		normal := createCostGateway(newNamespace(), "normal", good.CertPEM, normalKey, password)
		Eventually(func(g Gomega) {
			c := readyOf(g, normal)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(chatv1alpha1.NotDeployedReason))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		took := time.Since(created)
		AddReportEntry("another tenant's gateway ready after", took.String())
		GinkgoWriter.Printf("Another tenant's gateway was Ready after %s\n", took)

		By("reporting each refused key with its reason and the cap it exceeds")
		details := map[string]string{
			"scrypt-256mib":  "over the cap of 33554432 (32 MiB)",
			"scrypt-p1024":   "work N·r·p of 134217728, over the cap of 1048576",
			"pbkdf2-10m":     "10000000 PBKDF2 iterations, over the cap of 2000000",
			"rsa-huge-prime": "has an RSA prime of 32768 bits",
		}
		for name, key := range refusedKeys {
			c := expectReady(key, metav1.ConditionFalse, credentials.ReasonPrivateKeyInvalid)
			Expect(c.Message).To(HavePrefix(`Secret %q named by spec.connection.microsoftClientCredentials.certificateSecretRef: `, name))
			Expect(c.Message).To(ContainSubstring(details[name]))
			Expect(c.Message).NotTo(ContainSubstring(password))
		}

		By("checking the slow keys too, and reporting CheckingCredentials while they wait their turn")
		for _, key := range slow {
			expectReady(key, metav1.ConditionTrue, chatv1alpha1.NotDeployedReason)
		}
		Eventually(func(g Gomega) {
			checking := 0
			for _, key := range slow {
				for _, e := range eventsOf(g, key) {
					if e.Reason == chatv1alpha1.CheckingCredentialsReason {
						checking++
						break
					}
				}
			}
			// The attacker's checks run one at a time: all but the first waited.
			g.Expect(checking).To(BeNumerically(">=", len(slow)-1))
		}).Should(Succeed())
	})
})

// createCostGateway creates a gateway that is not deployed, with Microsoft client
// credentials from a certificate Secret and a password Secret of its own name.
func createCostGateway(namespace, name string, certPEM, keyPEM []byte, password string) client.ObjectKey {
	GinkgoHelper()
	// The label grants the Secrets to the namespace's gateways.
	grant := map[string]string{"chat.gatewayops.io/grant": "all"}
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: grant},
		Data: map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-password", Labels: grant},
		StringData: map[string]string{"password": password}})).To(Succeed())
	gw := minimalGateway(namespace, name)
	gw.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{
		Authority:                   "https://login.example.com/tenant",
		ClientID:                    "gateway-client",
		Scope:                       "api://gms-proxy/.default",
		CertificateSecretRef:        chatv1alpha1.SecretReference{Name: chatv1alpha1.ObjectName(name)},
		PrivateKeyPasswordSecretRef: &chatv1alpha1.SecretReference{Name: chatv1alpha1.ObjectName(name + "-password")},
	}
	return create(gw)
}

// ASN.1 of the PBES2 keys made by hand: their key derivation would take too long (or
// too much memory) to encrypt with, and the operator refuses them before it would run.
var (
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
)

type scryptParameters struct {
	Salt    []byte
	N, R, P int
}

type pbkdf2Parameters struct {
	Salt       []byte
	Iterations int
}

type algorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue
}

func derOf(v any) []byte {
	der, err := asn1.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return der
}

// costlyKeyPEM is an ENCRYPTED PRIVATE KEY (PBES2, AES-256-CBC) with the given key
// derivation and junk encrypted data.
func costlyKeyPEM(kdf asn1.ObjectIdentifier, params any) []byte {
	pbes2 := struct{ KDF, Cipher algorithm }{
		algorithm{kdf, asn1.RawValue{FullBytes: derOf(params)}},
		algorithm{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, asn1.RawValue{FullBytes: derOf(make([]byte, 16))}},
	}
	info := struct {
		Algorithm algorithm
		Data      []byte
	}{algorithm{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, asn1.RawValue{FullBytes: derOf(pbes2)}}, make([]byte, 64)}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: derOf(info)})
}

// hugePrimeKeyPEM is the RSA key of cert without its CRT values and with a 32768-bit
// first "prime": Go spent 108 s refusing such a 4.7 KB key.
func hugePrimeKeyPEM(cert *testcerts.ClientCert) []byte {
	rsaKey, ok := cert.Key.(*rsa.PrivateKey)
	Expect(ok).To(BeTrue(), "an RSA certificate")
	p, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 32768))
	Expect(err).NotTo(HaveOccurred())
	p.SetBit(p, 0, 1).SetBit(p, 32767, 1)
	numbers := struct {
		Version int
		N       *big.Int
		E       int
		D, P, Q *big.Int
	}{0, rsaKey.N, rsaKey.E, rsaKey.D, p, rsaKey.Primes[1]}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: derOf(numbers)})
}
