package credentials

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/youmark/pkcs8"
)

// oidPBES2 is PKCS#5 v2.0 password-based encryption (RFC 8018).
var oidPBES2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}

// encryptedPrivateKeyInfo is RFC 5958's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	EncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedData       []byte
}

// pbes2Params is RFC 8018's PBES2-params.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// parseEncryptedPKCS8 decrypts and parses an ENCRYPTED PRIVATE KEY block (PBES2: PBKDF2
// or scrypt with AES-CBC or 3DES-CBC, with github.com/youmark/pkcs8's key derivations and
// ciphers).
//
// Everything is checked before the key derivation runs: a malformed or unsupported block,
// or one whose key derivation costs more than the caps below, is ReasonPrivateKeyInvalid
// at once. The derivation then runs with exactly the parameters checked, and the
// decrypted key's size is checked (checkKeySize) before crypto/x509 parses it. Once the
// block is sound, a decryption that does not yield a key means the password is wrong.
func parseEncryptedPKCS8(der, password []byte) (crypto.Signer, error) {
	const what = "the private key (ENCRYPTED PRIVATE KEY)"
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, fail(ReasonPrivateKeyInvalid, "%s does not parse", what)
	}
	if !info.EncryptionAlgorithm.Algorithm.Equal(oidPBES2) {
		return nil, fail(ReasonPrivateKeyInvalid, "%s is encrypted with %s; only PBES2 (PKCS#5 v2.0, e.g. openssl pkcs8 -topk8 -v2 aes-256-cbc) is supported", what, info.EncryptionAlgorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.EncryptionAlgorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s has invalid PBES2 parameters", what)
	}
	// CBC decryption panics on an IV or data of the wrong length: check them.
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s has invalid cipher parameters", what)
	}
	cipher, ok := cbcCiphers[params.EncryptionScheme.Algorithm.String()]
	if !ok {
		return nil, fail(ReasonPrivateKeyInvalid, "%s uses the unsupported cipher %s; supported: AES-128/192/256-CBC, DES-EDE3-CBC", what, params.EncryptionScheme.Algorithm)
	}
	blockSize := cipher.IVSize()
	if len(iv) != blockSize || len(info.EncryptedData) == 0 || len(info.EncryptedData)%blockSize != 0 {
		return nil, fail(ReasonPrivateKeyInvalid, "%s has an IV or encrypted data of the wrong length", what)
	}
	kdf, err := parseKDF(params.KeyDerivationFunc)
	if err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s %s", what, err)
	}

	plain, err := decryptSafely(kdf, cipher, iv, info.EncryptedData, password)
	if err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s cannot be decrypted: %s", what, err)
	}
	plain, ok = unpad(plain, blockSize)
	if !ok {
		return nil, fail(ReasonPrivateKeyPassword, "%s does not decrypt with the given password", what)
	}
	if err := checkKeySize(blockPKCS8Encrypt, plain); err != nil {
		return nil, err
	}
	raw, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fail(ReasonPrivateKeyPassword, "%s does not decrypt with the given password", what)
	}
	return supportedKey(blockPKCS8Encrypt, raw)
}

// cbcCiphers are the CBC ciphers of github.com/youmark/pkcs8, by OID. (It registers GCM
// OIDs too, but decrypts them as CBC: they are not accepted.)
var cbcCiphers = map[string]pkcs8.Cipher{
	"2.16.840.1.101.3.4.1.2":  pkcs8.AES128CBC,
	"2.16.840.1.101.3.4.1.22": pkcs8.AES192CBC,
	"2.16.840.1.101.3.4.1.42": pkcs8.AES256CBC,
	"1.2.840.113549.3.7":      pkcs8.TripleDESCBC,
}

// decryptSafely derives the key and decrypts, turning a panic of the library on malformed
// input into an error.
func decryptSafely(kdf keyDerivation, cipher pkcs8.Cipher, iv, data, password []byte) (plain []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("invalid encrypted key")
		}
	}()
	key, _, err := kdf.opts.DeriveKey(password, kdf.salt, cipher.KeySize())
	if err != nil {
		return nil, err
	}
	return cipher.Decrypt(key, iv, data)
}

// unpad removes the PKCS#5 padding of a decrypted key; false when it is not valid, which
// a wrong password gives in all but about one case in 256.
func unpad(b []byte, blockSize int) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n < 1 || n > blockSize || n > len(b) || !bytes.Equal(b[len(b)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, false
	}
	return b[:len(b)-n], true
}

// The costliest key derivation a key may ask for. A tenant's Secret must not be able to
// exhaust the operator's memory (limit 256 MiB) or hold its CPU: the operator checks keys
// two at a time (controllers/credentials.go), and the runner derives the same key through
// this function when it starts and on every rotation, so these caps bound both. Each is
// set from what real tools write, with a margin, and refuses a key at once, before any
// derivation runs. Legacy encrypted PEM derives its key with one MD5 round
// (EVP_BytesToKey): cheap, unbounded by design.
const (
	// maxPBKDF2Iterations: OpenSSL writes 2048 (pkcs8 -v2, genpkey, req); OWASP's 2023
	// advice, which recent tools follow, is 600,000 for PBKDF2-HMAC-SHA256 and 1,300,000
	// for HMAC-SHA1. Two million is over three times the former: about 0.35 s with SHA-256
	// and 0.8 s with SHA-1 on one core, where 10 million took 1.8 s.
	maxPBKDF2Iterations = 2_000_000
	// maxScryptMemory bounds scrypt's memory, 128·r·(N+p+2) bytes: OpenSSL's default key
	// (N=16384, r=8, p=1) needs 16 MiB, and OpenSSL itself refuses by default to derive a
	// key needing more than 32 MiB. Two checks at once need at most 64 MiB of the
	// operator's 256 MiB.
	maxScryptMemory = 32 << 20
	// maxScryptWork bounds scrypt's work, N·r·p (its time is proportional): eight times
	// OpenSSL's default (2^17), about 0.3 s on one core. The memory cap alone would let p,
	// which costs no memory, multiply the time: p=1024 by a thousand.
	maxScryptWork = 1 << 20
)

// KDF OIDs (RFC 8018, RFC 7914) and PBKDF2's pseudo-random functions.
var (
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
)

// keyDerivation is a key derivation whose cost was checked: the library's options with
// the key's salt.
type keyDerivation struct {
	opts interface {
		DeriveKey(password, salt []byte, size int) ([]byte, pkcs8.KDFParameters, error)
	}
	salt []byte
}

// parseKDF reads a key derivation and refuses it when it is unsupported or costs more
// than the caps; its error completes a sentence that names the key.
func parseKDF(kdf pkix.AlgorithmIdentifier) (keyDerivation, error) {
	switch {
	case kdf.Algorithm.Equal(oidPBKDF2):
		var p struct {
			Salt           []byte
			IterationCount int
			PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
			return keyDerivation{}, fmt.Errorf("has invalid PBKDF2 parameters")
		}
		hash := crypto.SHA1 // RFC 8018's default PRF
		switch {
		case len(p.PRF.Algorithm) == 0 || p.PRF.Algorithm.Equal(oidHMACWithSHA1):
		case p.PRF.Algorithm.Equal(oidHMACWithSHA256):
			hash = crypto.SHA256
		default:
			return keyDerivation{}, fmt.Errorf("uses the unsupported PBKDF2 function %s; supported: HMAC-SHA1, HMAC-SHA256", p.PRF.Algorithm)
		}
		if p.IterationCount < 1 {
			return keyDerivation{}, fmt.Errorf("asks for %d PBKDF2 iterations; at least 1 is needed", p.IterationCount)
		}
		if p.IterationCount > maxPBKDF2Iterations {
			return keyDerivation{}, fmt.Errorf("asks for %d PBKDF2 iterations, over the cap of %d: re-encrypt it with fewer (openssl pkcs8 -topk8 -v2 aes-256-cbc uses 2048)", p.IterationCount, maxPBKDF2Iterations)
		}
		return keyDerivation{opts: pkcs8.PBKDF2Opts{IterationCount: p.IterationCount, HMACHash: hash}, salt: p.Salt}, nil
	case kdf.Algorithm.Equal(oidScrypt):
		var p struct {
			Salt                     []byte
			CostParameter            int
			BlockSize                int
			ParallelizationParameter int
		}
		if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
			return keyDerivation{}, fmt.Errorf("has invalid scrypt parameters")
		}
		if err := checkScryptCost(int64(p.CostParameter), int64(p.BlockSize), int64(p.ParallelizationParameter)); err != nil {
			return keyDerivation{}, err
		}
		return keyDerivation{opts: pkcs8.ScryptOpts{CostParameter: p.CostParameter, BlockSize: p.BlockSize, ParallelizationParameter: p.ParallelizationParameter}, salt: p.Salt}, nil
	}
	return keyDerivation{}, fmt.Errorf("uses the unsupported key derivation function %s; supported: PBKDF2, scrypt", kdf.Algorithm)
}

// checkScryptCost refuses scrypt parameters that are invalid or over a cap, naming every
// cap exceeded.
func checkScryptCost(n, r, p int64) error {
	if n < 2 || n&(n-1) != 0 || r < 1 || p < 1 {
		return fmt.Errorf("has invalid scrypt parameters (N=%d, r=%d, p=%d): N must be a power of 2 over 1, r and p at least 1", n, r, p)
	}
	// Each factor is at least 1, so none may exceed the work cap: the products below
	// cannot overflow.
	if n > maxScryptWork || r > maxScryptWork || p > maxScryptWork {
		return fmt.Errorf("asks for scrypt parameters (N=%d, r=%d, p=%d) over the cap of %d on N·r·p: re-encrypt it with OpenSSL's defaults (N=16384, r=8, p=1)", n, r, p, maxScryptWork)
	}
	var over []string
	if memory := 128 * r * (n + p + 2); memory > maxScryptMemory {
		over = append(over, fmt.Sprintf("%d bytes of memory (128·r·(N+p+2)), over the cap of %d (%d MiB)", memory, maxScryptMemory, maxScryptMemory>>20))
	}
	if work := n * r * p; work > maxScryptWork {
		over = append(over, fmt.Sprintf("work N·r·p of %d, over the cap of %d", work, maxScryptWork))
	}
	if len(over) > 0 {
		msg := over[0]
		if len(over) == 2 {
			msg += " and " + over[1]
		}
		return fmt.Errorf("asks for scrypt parameters (N=%d, r=%d, p=%d) needing %s: re-encrypt it with OpenSSL's defaults (N=16384, r=8, p=1)", n, r, p, msg)
	}
	return nil
}
