package credentials

import (
	"crypto/rsa"
)

// CheckRSA reports whether cert can sign Entra ID client assertions: MSAL signs them with
// RSA (PS256), so the key must be RSA. It returns an *Error with ReasonPrivateKeyInvalid
// otherwise, so the operator refuses the Secret before a runner starts, without linking
// the authentication library.
func CheckRSA(cert *Certificate) error {
	if cert == nil || len(cert.Chain) == 0 || cert.Key == nil {
		return fail(ReasonCertificateInvalid, "no certificate")
	}
	if _, ok := cert.Key.(*rsa.PrivateKey); !ok {
		return fail(ReasonPrivateKeyInvalid,
			"the private key is of type %T: Entra ID client assertions are signed with RSA (PS256), so the certificate needs an RSA key", cert.Key)
	}
	return nil
}
