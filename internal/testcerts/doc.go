// Package testcerts makes certificates and private keys for tests, in every format the
// gateway reads: a certificate chain in PEM, keys in PKCS#1, SEC1 and PKCS#8, encrypted as
// PKCS#8 (PBES2) or the legacy OpenSSL way, and CA bundles. The operator's checks, the
// runner's transport and the Entra ID stand-in build their material here, so that they
// test the same material.
//
// It is test support: production code never imports it. Its functions fail the test (or
// benchmark) they are given rather than return errors.
package testcerts
