package controllers

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/credentials"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/entra"
)

// Fields of the references whose content the operator checks before it runs runners.
const (
	certificateField       = "spec.connection.microsoftClientCredentials.certificateSecretRef"
	keyPasswordField       = "spec.connection.microsoftClientCredentials.privateKeyPasswordSecretRef"
	caBundleField          = "spec.connection.tls.caBundle"
	clientCertificateField = "spec.connection.tls.clientCertificateSecretRef"
)

// checkCredentials parses the certificates, keys and CA bundles the gateway references, so
// that a PEM that does not parse, a key that does not match its certificate, a wrong
// password or an expired certificate is reported before any runner starts. contents holds
// the data of each reference by its field. Problems name the object and the field, never a
// value.
func checkCredentials(refs []reference, contents map[string]map[string][]byte, now time.Time) *referenceProblem {
	byField := make(map[string]reference, len(refs))
	for _, r := range refs {
		byField[r.Field] = r
	}
	if ref, ok := byField[certificateField]; ok {
		data := contents[certificateField]
		var password []byte
		if _, ok := byField[keyPasswordField]; ok {
			password = contents[keyPasswordField]["password"]
		}
		cert, err := credentials.ParseCertificate(data["tls.crt"], data["tls.key"], password, now)
		if err == nil {
			err = entra.CheckCertificate(cert)
		}
		if err != nil {
			return credentialProblem(ref, err)
		}
	}
	if ref, ok := byField[clientCertificateField]; ok {
		data := contents[clientCertificateField]
		if _, err := credentials.ParseCertificate(data["tls.crt"], data["tls.key"], nil, now); err != nil {
			return credentialProblem(ref, err)
		}
	}
	if ref, ok := byField[caBundleField]; ok {
		if _, _, err := credentials.ParseCABundle(contents[caBundleField][ref.Keys[0]]); err != nil {
			return credentialProblem(ref, err)
		}
	}
	return nil
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
func (c *verdictCache) check(gateway string, refs []reference, versions map[string]string, contents map[string]map[string][]byte, now time.Time) *referenceProblem {
	var b strings.Builder
	for _, r := range refs {
		fmt.Fprintf(&b, "%s=%s/%s@%s;", r.Field, r.Kind, r.Name, versions[r.Field])
	}
	key := b.String()
	c.mu.Lock()
	if v, ok := c.m[gateway]; ok && v.versions == key && now.Before(v.until) {
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
	c.m[gateway] = verdict{versions: key, problem: problem, until: now.Add(verdictTTL)}
	return problem
}
