package testcerts

import "bytes"

// BadCertificateBlock is a CERTIFICATE block whose content is not a certificate.
var BadCertificateBlock = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")

// BundleWithBadBlock is the CA bundle good followed by BadCertificateBlock: what the
// standard library's AppendCertsFromPEM takes (it skips the bad block) and the gateway
// refuses, so that the operator and the runner are shown to agree on it. good is not
// modified.
func BundleWithBadBlock(good []byte) []byte {
	return bytes.Join([][]byte{good, BadCertificateBlock}, nil)
}
