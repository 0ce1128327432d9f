package controllers

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// checkCredentials parses the certificates, keys and CA bundles the gateway references, so
// that a PEM that does not parse, a key that does not match its certificate, a wrong
// password or an expired certificate is reported before any runner starts. contents holds
// the data of each reference by its field. The TLS material goes through
// credentials.TLSConfig, the function the runner builds its transport with, so what the
// operator accepts is what the runner can use. Problems name the object and the field,
// never a value.
func checkCredentials(refs []reference, contents map[gateway.Field]map[string][]byte, now time.Time) *referenceProblem {
	byField := make(map[gateway.Field]reference, len(refs))
	for _, r := range refs {
		byField[r.Field] = r
	}
	if ref, ok := byField[gateway.FieldEntraCertificate]; ok {
		data := contents[gateway.FieldEntraCertificate]
		var password []byte
		if _, ok := byField[gateway.FieldEntraKeyPassword]; ok {
			password = contents[gateway.FieldEntraKeyPassword][gateway.KeyPassword]
		}
		cert, err := credentials.ParseCertificate(data[gateway.KeyTLSCertificate], data[gateway.KeyTLSKey], password, now)
		if err == nil {
			err = credentials.CheckRSA(cert)
		}
		if err != nil {
			return credentialProblem(ref, err)
		}
	}
	var material credentials.TLSMaterial
	caRef, hasCA := byField[gateway.FieldCABundle]
	if hasCA {
		material.CABundle = nonNil(contents[gateway.FieldCABundle][caRef.Keys[0]])
	}
	certRef, hasCert := byField[gateway.FieldClientCertificate]
	if hasCert {
		data := contents[gateway.FieldClientCertificate]
		material.ClientCertificate = nonNil(data[gateway.KeyTLSCertificate])
		material.ClientKey = nonNil(data[gateway.KeyTLSKey])
	}
	if hasCA || hasCert {
		if _, err := credentials.TLSConfig(material, now); err != nil {
			ref := certRef
			var cerr *credentials.Error
			if !hasCert || errors.As(err, &cerr) && cerr.Reason == credentials.ReasonCABundleInvalid {
				ref = caRef
			}
			return credentialProblem(ref, err)
		}
	}
	return nil
}

// nonNil makes present but empty data distinct from absent data (nil).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// credentialProblem reports a credential that does not work, with the parser's reason.
func credentialProblem(ref reference, err error) *referenceProblem {
	reason := credentials.ReasonCertificateInvalid
	var cerr *credentials.Error
	if errors.As(err, &cerr) {
		reason = cerr.Reason
	}
	return &referenceProblem{reason, fmt.Sprintf("%s %q named by %s: %s", ref.Kind, ref.Name, ref.Field, err.Error())}
}

// verdictTTL bounds how long a verdict of checkCredentials is reused, so that a certificate
// that expires meanwhile is reported within it.
const verdictTTL = 10 * time.Minute

// verdictCache remembers checkCredentials' verdict per gateway and versions of what it
// references. A reconcile runs on every runner status write; without it, each would parse
// the certificates again and decrypt the private key (a deliberately slow key derivation).
// The zero value is ready to use.
type verdictCache struct {
	mu sync.Mutex
	m  map[string]verdict
}

type verdict struct {
	versions string
	problem  *referenceProblem
	until    time.Time
}

// check returns the cached verdict of a gateway whose references have these versions, or
// runs checkCredentials and caches its verdict.
func (c *verdictCache) check(gw string, refs []reference, versions map[gateway.Field]string, contents map[gateway.Field]map[string][]byte, now time.Time) *referenceProblem {
	var b strings.Builder
	for _, r := range refs {
		fmt.Fprintf(&b, "%s=%s/%s@%s;", r.Field, r.Kind, r.Name, versions[r.Field])
	}
	key := b.String()
	c.mu.Lock()
	if v, ok := c.m[gw]; ok && v.versions == key && now.Before(v.until) {
		c.mu.Unlock()
		return v.problem
	}
	c.mu.Unlock()
	problem := checkCredentials(refs, contents, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]verdict{}
	}
	for k, v := range c.m { // forget gateways not seen for a while
		if now.After(v.until) {
			delete(c.m, k)
		}
	}
	c.m[gw] = verdict{versions: key, problem: problem, until: now.Add(verdictTTL)}
	return problem
}
