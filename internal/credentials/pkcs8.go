package credentials

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"

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
// or scrypt with AES-CBC or 3DES-CBC, as github.com/youmark/pkcs8 supports).
//
// The structure is checked here first, so that a malformed or unsupported block is
// ReasonPrivateKeyInvalid; once it is sound, a decryption that does not yield a key means
// the password is wrong.
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
	// The library's CBC decryption panics on an IV or data of the wrong length: check them.
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s has invalid cipher parameters", what)
	}
	blockSize, ok := cbcBlockSizes[params.EncryptionScheme.Algorithm.String()]
	if !ok {
		return nil, fail(ReasonPrivateKeyInvalid, "%s uses the unsupported cipher %s; supported: AES-128/192/256-CBC, DES-EDE3-CBC", what, params.EncryptionScheme.Algorithm)
	}
	if len(iv) != blockSize || len(info.EncryptedData) == 0 || len(info.EncryptedData)%blockSize != 0 {
		return nil, fail(ReasonPrivateKeyInvalid, "%s has an IV or encrypted data of the wrong length", what)
	}

	if err := checkKDFCost(params.KeyDerivationFunc); err != nil {
		return nil, fail(ReasonPrivateKeyInvalid, "%s %s", what, err)
	}

	raw, err := parsePKCS8Safely(der, password)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "unsupported") || strings.Contains(msg, "invalid") {
			// Unsupported KDF (or its parameters): the library's text names OIDs only.
			return nil, fail(ReasonPrivateKeyInvalid, "%s cannot be decrypted: %s", what, msg)
		}
		return nil, fail(ReasonPrivateKeyPassword, "%s does not decrypt with the given password", what)
	}
	return supportedKey(blockPKCS8Encrypt, raw)
}

// KDF OIDs and the most work a key derivation may ask for: a Secret must not be able to
// stall the operator. OpenSSL's defaults are far below (PBKDF2: 2048 iterations, scrypt:
// N=16384, r=8, p=1).
var (
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
)

const (
	maxPBKDF2Iterations = 10_000_000
	maxScryptMemory     = 256 << 20 // bytes: 128 * N * r * p
)

// checkKDFCost refuses key derivations too costly to run.
func checkKDFCost(kdf pkix.AlgorithmIdentifier) error {
	switch {
	case kdf.Algorithm.Equal(oidPBKDF2):
		var p struct {
			Salt           []byte
			IterationCount int
			PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
			return fmt.Errorf("has invalid PBKDF2 parameters")
		}
		if p.IterationCount < 1 || p.IterationCount > maxPBKDF2Iterations {
			return fmt.Errorf("asks for %d PBKDF2 iterations; at most %d are allowed", p.IterationCount, maxPBKDF2Iterations)
		}
	case kdf.Algorithm.Equal(oidScrypt):
		var p struct {
			Salt                     []byte
			CostParameter            int
			BlockSize                int
			ParallelizationParameter int
		}
		if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
			return fmt.Errorf("has invalid scrypt parameters")
		}
		n, r, q := int64(p.CostParameter), int64(p.BlockSize), int64(p.ParallelizationParameter)
		if n < 2 || r < 1 || q < 1 || n > 1<<24 || r > 1<<10 || q > 1<<10 ||
			128*n*r > maxScryptMemory || 128*r*q > maxScryptMemory {
			return fmt.Errorf("asks for scrypt parameters (N=%d, r=%d, p=%d) beyond the allowed cost", n, r, q)
		}
	default:
		return fmt.Errorf("uses the unsupported key derivation function %s; supported: PBKDF2, scrypt", kdf.Algorithm)
	}
	return nil
}

// cbcBlockSizes are the block sizes of the CBC ciphers github.com/youmark/pkcs8 supports,
// by OID.
var cbcBlockSizes = map[string]int{
	"2.16.840.1.101.3.4.1.2":  16, // AES-128-CBC
	"2.16.840.1.101.3.4.1.22": 16, // AES-192-CBC
	"2.16.840.1.101.3.4.1.42": 16, // AES-256-CBC
	"1.2.840.113549.3.7":      8,  // DES-EDE3-CBC
}

// parsePKCS8Safely calls the library, turning a panic on malformed input into an error.
func parsePKCS8Safely(der, password []byte) (key any, err error) {
	defer func() {
		if r := recover(); r != nil {
			key, err = nil, fmt.Errorf("pkcs8: invalid encrypted key")
		}
	}()
	return pkcs8.ParsePKCS8PrivateKey(der, password)
}
