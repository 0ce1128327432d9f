package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// parsedFields are the references whose content checkCredentials reads: a check keeps
// only their content while it waits for its turn (verdictCache), and a gateway with none
// of them needs no check. A field that checkCredentials comes to parse must be added.
var parsedFields = []gateway.Field{gateway.FieldEntraCertificate, gateway.FieldEntraKeyPassword, gateway.FieldClientCertificate, gateway.FieldCABundle, gateway.FieldEscalationTLS, gateway.FieldWebhookSecret}

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
	if ref, ok := byField[gateway.FieldWebhookSecret]; ok {
		data := contents[gateway.FieldWebhookSecret]
		if _, err := credentials.ParseWebhookSecret(string(data[gateway.KeyWebhookSecret])); err != nil {
			return credentialProblem(ref, err)
		}
		if prev, ok := data[gateway.KeyPreviousWebhookSecret]; ok {
			if _, err := credentials.ParseWebhookSecret(string(prev)); err != nil {
				return credentialProblem(ref, fmt.Errorf("key %s: %w", gateway.KeyPreviousWebhookSecret, err))
			}
		}
	}
	if ref, ok := byField[gateway.FieldEscalationTLS]; ok {
		data := contents[gateway.FieldEscalationTLS]
		material := credentials.ServingMaterial(data[gateway.KeyTLSCertificate], data[gateway.KeyTLSKey], data[gateway.KeyCABundle])
		if _, err := credentials.TLSConfig(material, now); err != nil {
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

// Credentials are checked off the reconcile workers. Parsing a key is the one costly step
// of a reconcile (an encrypted key's derivation is slow on purpose), and whoever writes
// the Secret chooses its cost: on the reconcile workers, four gateways with slow keys held
// all four and delayed every other tenant's gateways by over a minute. internal/credentials
// caps the cost of one parse; these bound how many run and for how long.
const (
	// maxParallelChecks is how many checks run at once in the whole operator. A check is
	// CPU-bound and may hold up to 32 MiB (the scrypt cap): two leave CPU to the reconcile
	// workers and stay far below the operator's 256 MiB memory limit.
	maxParallelChecks = 2
	// checkBudget is how long a check may take before its verdict is that the credentials
	// are too costly to check. A key at the caps of internal/credentials takes under a
	// second on one core (0.3 s for scrypt or PBKDF2-SHA256, 0.8 s for PBKDF2-SHA1); the
	// budget leaves room for a busy node.
	checkBudget = 2 * time.Second
	// checkWait is how long a reconcile waits for a verdict before it reports
	// CheckingCredentials and lets its worker go. A key at OpenSSL's defaults is checked
	// well within it, so most gateways never show that state.
	checkWait = 150 * time.Millisecond
	// maxPendingPerNamespace is how many checks of one namespace may run or wait for their
	// turn. Each holds the Secrets it parses (up to 1 MiB each) until it ends: further
	// gateways of the namespace are deferred, holding nothing, and reconciled again when
	// one of its checks ends, so a tenant's hundred gateways cannot fill the operator's
	// memory.
	maxPendingPerNamespace = 4
)

// verdictTTL bounds how long a verdict of checkCredentials is reused, so that a certificate
// that expires meanwhile is reported within it.
const verdictTTL = 10 * time.Minute

// forgetAfter is how long an expired verdict is kept: it is served while the same versions
// are checked again, so a gateway does not turn to CheckingCredentials every verdictTTL.
const forgetAfter = 24 * time.Hour

// checkingCredentials is the verdict of a check still running after checkWait.
var checkingCredentials = &referenceProblem{chatv1alpha1.CheckingCredentialsReason,
	"The certificates, keys and CA bundles the gateway references are being checked"}

// checking tells whether a verdict is that the check is still running.
func (p *referenceProblem) checking() bool { return p == checkingCredentials }

// verdictCache runs checkCredentials for gateways and remembers each verdict per gateway
// and versions of what it references: a reconcile runs on every runner status write, and
// without it each would parse the certificates and decrypt the key again. Checks run on
// their own goroutines, at most maxParallelChecks at once and one per namespace at a time
// (a tenant's slow keys delay its own checks, not the other tenants'), each within
// checkBudget. The zero value is ready to use.
type verdictCache struct {
	// notify, when set, is told of a gateway whose verdict landed after its reconcile
	// stopped waiting for it, so that the gateway is reconciled again (see source).
	notify func(types.NamespacedName)
	// run, wait and budget replace checkCredentials, checkWait and checkBudget in tests.
	run          func([]reference, map[gateway.Field]map[string][]byte, time.Time) *referenceProblem
	wait, budget time.Duration

	mu         sync.Mutex
	m          map[string]*verdict
	slots      chan struct{}
	namespaces map[string]*namespaceTurn
}

// verdict is the check of a gateway's references at some versions.
type verdict struct {
	versions string
	// done is closed once landed: problem and until are then set.
	done    chan struct{}
	landed  bool
	problem *referenceProblem
	until   time.Time
	// stale, when hasStale, is the expired verdict of the same versions, served while this
	// one runs.
	stale    *referenceProblem
	hasStale bool
	// abandoned is set when a reconcile stopped waiting: the gateway is notified when the
	// verdict lands.
	abandoned bool
	// namespace is the turn of the gateway's namespace.
	namespace *namespaceTurn
}

// namespaceTurn lets one check of a namespace run at a time. users counts the checks that
// hold or wait for it, so that it is forgotten when none does; slow is set once a
// reconcile stopped waiting for one of them; deferred are the gateways whose check could
// not wait (maxPendingPerNamespace), to notify when one ends.
type namespaceTurn struct {
	name     string
	turn     chan struct{}
	users    int
	slow     bool
	deferred map[string]bool
}

// check returns the verdict of a gateway ("namespace/name") whose references have these
// versions: the cached one, or that of a check it starts (or that runs already), if it
// lands within checkWait. Otherwise it returns the expired verdict of the same versions
// if there is one, else checkingCredentials; the gateway is notified when the verdict
// lands. It does not wait at all for a check already waited for, nor while its namespace
// has a slow check: a tenant's many slow keys then cost the reconcile workers one wait,
// not one each.
func (c *verdictCache) check(gw string, refs []reference, versions map[gateway.Field]string, contents map[gateway.Field]map[string][]byte, now time.Time) *referenceProblem {
	if !parses(refs) {
		return nil
	}
	var b strings.Builder // the versions of what is parsed: another change needs no check
	for _, r := range refs {
		if slices.Contains(parsedFields, r.Field) {
			fmt.Fprintf(&b, "%s=%s/%s%v@%s;", r.Field, r.Kind, r.Name, r.Keys, versions[r.Field])
		}
	}
	key := b.String()
	wait := cmp.Or(c.wait, checkWait)
	c.mu.Lock()
	v := c.m[gw]
	switch {
	case v != nil && v.versions == key && !v.landed:
		// A check of these versions runs: wait for it, unless that was done already.
		if v.abandoned || v.namespace.slow {
			wait = 0
		}
	case v != nil && v.versions == key && now.Before(v.until):
		c.mu.Unlock()
		return v.problem
	default:
		next := &verdict{versions: key, done: make(chan struct{})}
		if v != nil && v.versions == key {
			next.stale, next.hasStale = v.problem, true
		}
		if !c.start(gw, next, refs, contents, now) {
			c.mu.Unlock()
			if next.hasStale {
				return next.stale
			}
			return checkingCredentials
		}
		v = next
		if v.namespace.slow {
			wait = 0
		}
	}
	c.mu.Unlock()
	return c.await(v, wait)
}

// parses tells whether any reference holds something checkCredentials parses.
func parses(refs []reference) bool {
	return slices.ContainsFunc(refs, func(r reference) bool { return slices.Contains(parsedFields, r.Field) })
}

// start records a verdict as the gateway's and starts its check, keeping only the content
// the check parses; false when the namespace has maxPendingPerNamespace checks already:
// the gateway is then deferred. c.mu is held.
func (c *verdictCache) start(gw string, v *verdict, refs []reference, contents map[gateway.Field]map[string][]byte, now time.Time) bool {
	if c.m == nil {
		c.m = map[string]*verdict{}
		c.slots = make(chan struct{}, maxParallelChecks)
		c.namespaces = map[string]*namespaceTurn{}
	}
	namespace, _, _ := strings.Cut(gw, "/")
	v.namespace = c.namespaces[namespace]
	if v.namespace == nil {
		v.namespace = &namespaceTurn{name: namespace, turn: make(chan struct{}, 1), deferred: map[string]bool{}}
		c.namespaces[namespace] = v.namespace
	}
	if v.namespace.users >= maxPendingPerNamespace {
		v.namespace.deferred[gw] = true
		return false
	}
	v.namespace.users++
	parsed := make(map[gateway.Field]map[string][]byte, len(parsedFields))
	for _, f := range parsedFields {
		if data, ok := contents[f]; ok {
			parsed[f] = data
		}
	}
	for k, old := range c.m { // forget gateways not seen for long
		if old.landed && now.After(old.until.Add(forgetAfter)) {
			delete(c.m, k)
		}
	}
	c.m[gw] = v
	go c.perform(gw, v, refs, parsed, now)
	return true
}

// await waits up to wait for a verdict to land.
func (c *verdictCache) await(v *verdict, wait time.Duration) *referenceProblem {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-v.done:
		return v.problem
	case <-timer.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !v.landed {
		v.abandoned, v.namespace.slow = true, true
	}
	switch {
	case v.landed:
		return v.problem
	case v.hasStale:
		return v.stale
	default:
		return checkingCredentials
	}
}

// perform runs a check when its namespace's turn and a slot are free, and lands its
// verdict, or the verdict that it is too costly once it outlasts the budget. A check that
// outlasts its budget cannot be stopped (the key derivation takes no context); it keeps
// its slot until it ends, so that no more than maxParallelChecks ever run.
func (c *verdictCache) perform(gw string, v *verdict, refs []reference, contents map[gateway.Field]map[string][]byte, now time.Time) {
	release := c.take(v.namespace)
	if !c.current(gw, v) { // superseded while it waited: the Secret changed again
		release()
		c.land(gw, v, checkingCredentials, now)
		return
	}
	run := c.run
	if run == nil {
		run = checkCredentials
	}
	result := make(chan *referenceProblem, 1)
	go func() {
		defer release()
		defer func() {
			if r := recover(); r != nil {
				logf.Log.Error(fmt.Errorf("%v", r), "Recovered from a panic while checking credentials", "gateway", gw)
				result <- &referenceProblem{credentials.ReasonCertificateInvalid, "The certificates and keys the gateway references could not be checked"}
			}
		}()
		result <- run(refs, contents, now)
	}()
	budget := cmp.Or(c.budget, checkBudget)
	timer := time.NewTimer(budget)
	defer timer.Stop()
	var problem *referenceProblem
	select {
	case problem = <-result:
	case <-timer.C:
		logf.Log.Info("Refused credentials that took too long to check", "gateway", gw, "budget", budget)
		problem = tooCostly(refs, budget)
	}
	c.land(gw, v, problem, now)
}

// take waits for the namespace's turn, then for a slot, and returns what frees both,
// notifies the namespace's deferred gateways, and forgets the namespace once none of its
// checks is left.
func (c *verdictCache) take(t *namespaceTurn) (release func()) {
	t.turn <- struct{}{}
	c.slots <- struct{}{}
	return func() {
		<-c.slots
		<-t.turn
		c.mu.Lock()
		deferred := t.deferred
		t.deferred = map[string]bool{}
		if t.users--; t.users == 0 {
			delete(c.namespaces, t.name)
		}
		c.mu.Unlock()
		if c.notify != nil {
			for gw := range deferred {
				c.notify(types.NamespacedName{Namespace: t.name, Name: strings.TrimPrefix(gw, t.name+"/")})
			}
		}
	}
}

// current tells whether v is still the gateway's verdict.
func (c *verdictCache) current(gw string, v *verdict) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[gw] == v
}

// land sets a verdict and notifies the gateway if a reconcile stopped waiting for it.
func (c *verdictCache) land(gw string, v *verdict, problem *referenceProblem, now time.Time) {
	c.mu.Lock()
	v.problem, v.until, v.landed = problem, now.Add(verdictTTL), true
	notify := v.abandoned && c.m[gw] == v && c.notify != nil
	c.mu.Unlock()
	close(v.done)
	if notify {
		namespace, name, _ := strings.Cut(gw, "/")
		c.notify(types.NamespacedName{Namespace: namespace, Name: name})
	}
}

// tooCostly is the verdict of a check that outlasted its budget: it names the object whose
// parsing is costly, the Entra ID certificate's Secret first (the one whose key may be
// encrypted).
func tooCostly(refs []reference, budget time.Duration) *referenceProblem {
	for _, field := range []gateway.Field{gateway.FieldEntraCertificate, gateway.FieldClientCertificate, gateway.FieldCABundle} {
		for _, r := range refs {
			if r.Field != field {
				continue
			}
			reason := credentials.ReasonPrivateKeyInvalid
			if field == gateway.FieldCABundle {
				reason = credentials.ReasonCABundleInvalid
			}
			return &referenceProblem{reason, fmt.Sprintf("%s %q named by %s: too costly to check: parsing it took over %s "+
				"(a key encrypted with OpenSSL's defaults takes milliseconds)", r.Kind, r.Name, r.Field, budget)}
		}
	}
	return &referenceProblem{credentials.ReasonCertificateInvalid, fmt.Sprintf("The certificates the gateway references are too costly to check: parsing them took over %s", budget)}
}

// source returns the source of the gateways whose verdict landed after their reconcile
// stopped waiting, for the controller to reconcile them again: nothing polls. It sets
// notify, which blocks until the controller takes the gateway or ctx ends.
func (c *verdictCache) source(ctx context.Context) source.Source {
	landed := make(chan event.TypedGenericEvent[types.NamespacedName])
	c.notify = func(gw types.NamespacedName) {
		select {
		case landed <- event.TypedGenericEvent[types.NamespacedName]{Object: gw}:
		case <-ctx.Done():
		}
	}
	return source.Channel(landed, handler.TypedEnqueueRequestsFromMapFunc(
		func(_ context.Context, gw types.NamespacedName) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: gw}}
		}))
}
