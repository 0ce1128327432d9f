package entratest

import (
	"testing"

	"github.com/gatewayops/genesys-gateway-operator/internal/testcerts"
)

// The stand-in's client certificates are those of testcerts, under the names its callers
// know: one set of certificate builders for every test of the project.

// CertOptions describe a client certificate to make. Zero fields take defaults.
type CertOptions = testcerts.CertOptions

// ClientCert is a client certificate, its chain and its key, with PEM encodings.
type ClientCert = testcerts.ClientCert

// NewClientCert makes a client certificate (RSA 2048 unless opts.ECDSA).
func NewClientCert(t testing.TB, opts CertOptions) *ClientCert {
	t.Helper()
	return testcerts.NewClientCert(t, opts)
}
