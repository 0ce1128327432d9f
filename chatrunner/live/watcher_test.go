package live_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
)

var _ = Describe("Watcher, as the runner within its Role", func() {
	It("runs as a runner that may read only what its Role names", func() {
		f := newFixture(false)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createSecret("other", map[string]string{"password": password})
		runner, err := kubernetes.NewForConfig(f.runnerConfig())
		Expect(err).NotTo(HaveOccurred())

		_, err = runner.CoreV1().Secrets(f.ns).Get(ctx, "acme-gms", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = runner.CoreV1().Secrets(f.ns).Get(ctx, "other", metav1.GetOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		_, err = runner.CoreV1().Secrets(f.ns).List(ctx, metav1.ListOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		_, err = runner.CoreV1().Secrets(f.ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=acme-gms"})
		Expect(err).NotTo(HaveOccurred())
	})

	It("builds the first snapshot of the gateway and the objects it references", func() {
		f := newFixture(true)
		gms := f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		tok := f.createSecret("acme-escalation-token", map[string]string{"token": token})
		cm := f.createDirectory()
		f.createSecret("unreferenced", map[string]string{"password": password})
		w := f.start()

		snap := w.Current()
		Expect(snap.Gateway).NotTo(BeNil())
		Expect(snap.Gateway.Name).To(Equal("acme"))
		Expect(snap.Gateway.Spec.Domain).To(Equal("acme.example"))
		Expect(keys(snap.Secrets)).To(Equal([]string{"acme-escalation-token", "acme-gms"}))
		Expect(keys(snap.ConfigMaps)).To(Equal([]string{"agents"}))
		Expect(snap.SecretKey("acme-gms", "password")).To(Equal([]byte(password)))
		Expect(snap.SecretKey("acme-escalation-token", "token")).To(Equal([]byte(token)))
		Expect(snap.ConfigMapKey("agents", "agents.yaml")).To(Equal(directory))
		Expect(snap.ResourceVersions()).To(Equal(map[string]string{
			"Secret/acme-gms":              gms.ResourceVersion,
			"Secret/acme-escalation-token": tok.ResourceVersion,
			"ConfigMap/agents":             cm.ResourceVersion,
		}))
		Expect(f.logs.String()).To(ContainSubstring(`"msg"="Observed gateway"`))
	})

	It("applies a rotated Secret and signals the change", func() {
		f := newFixture(false)
		gms := f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createSecret("acme-escalation-token", map[string]string{"token": token})
		w := f.start()
		drain(w)

		gms.StringData = map[string]string{"password": rotatedPassword}
		Expect(admin.Update(ctx, gms)).To(Succeed())
		Eventually(w.Changed()).Should(Receive())
		Eventually(func() ([]byte, error) { return w.Current().SecretKey("acme-gms", "password") }).
			Should(Equal([]byte(rotatedPassword)))
		Expect(w.Current().ResourceVersions()).To(HaveKeyWithValue("Secret/acme-gms", gms.ResourceVersion))
		Expect(f.logs.String()).To(ContainSubstring(`"msg"="Observed reference change" "kind"="Secret" "name"="acme-gms"`))
	})

	It("leaves out a Secret that does not grant itself to the gateway, even while its Role still allows reading it", func() {
		f := newFixture(false)
		gms := f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createSecret("acme-escalation-token", map[string]string{"token": token})
		w := f.start()
		drain(w)

		gms.Labels = nil // the grant is withdrawn; the Role is narrowed only at the operator's next reconcile
		gms.StringData = nil
		Expect(admin.Update(ctx, gms)).To(Succeed())
		Eventually(w.Changed()).Should(Receive())
		Eventually(func() error { _, err := w.Current().SecretKey("acme-gms", "password"); return err }).
			Should(MatchError(ContainSubstring(`Secret "acme-gms" not found: it does not grant itself to the gateway`)))
		Expect(w.Current().Secrets).NotTo(HaveKey("acme-gms"), "the watch's copy never reaches the runner")

		gms.Labels = grantAll
		Expect(admin.Update(ctx, gms)).To(Succeed())
		Eventually(func() ([]byte, error) { return w.Current().SecretKey("acme-gms", "password") }).
			Should(Equal([]byte(password)), "granted again: back at once")
	})

	It("shows a referenced Secret created after the start, and its deletion", func() {
		f := newFixture(false)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		w := f.start() // the token Secret is missing: listed once as missing

		_, err := w.Current().SecretKey("acme-escalation-token", "token")
		Expect(err).To(MatchError(`Secret "acme-escalation-token" not found`))
		Expect(errors.Is(err, live.ErrNotFound)).To(BeTrue())
		drain(w)

		tok := f.createSecret("acme-escalation-token", map[string]string{"token": token})
		Eventually(w.Changed()).Should(Receive())
		Eventually(func() ([]byte, error) { return w.Current().SecretKey("acme-escalation-token", "token") }).
			Should(Equal([]byte(token)))

		Expect(admin.Delete(ctx, tok)).To(Succeed())
		Eventually(func() error { _, err := w.Current().SecretKey("acme-escalation-token", "token"); return err }).
			Should(MatchError(`Secret "acme-escalation-token" not found`))
	})

	It("starts watching a new reference, once the runner's Role allows it", func() {
		f := newFixture(false)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createDirectory()
		w := f.start()
		Expect(w.Current().ConfigMaps).To(BeEmpty())

		// The gateway changes first; the operator updates the Role after.
		f.updateGateway(func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentOverride = chatv1alpha1.AgentOverrideLookupAgentByEmail
			gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
		})
		Eventually(func() error { _, err := w.Current().ConfigMapKey("agents", "agents.yaml"); return err }).
			Should(MatchError(`ConfigMap "agents" not found yet: the runner's Role does not allow reading it (yet)`))
		Expect(w.Current().Gateway.Spec.AgentDirectory).NotTo(BeNil())

		f.grant() // the watch retries with client-go's back-off: 0.8 s, doubling, jittered
		Eventually(func() (string, error) { return w.Current().ConfigMapKey("agents", "agents.yaml") }).
			WithTimeout(30 * time.Second).Should(Equal(directory))
		Expect(f.logs.String()).To(ContainSubstring(`"msg"="Started watching reference" "kind"="ConfigMap" "name"="agents"`))
	})

	It("does not wait at start for a reference its Role does not allow yet", func() {
		f := newFixture(false)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createDirectory()
		f.updateGateway(func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentDirectory = &chatv1alpha1.AgentDirectory{Name: "agents", Key: "agents.yaml"}
		})
		w := f.start() // the Role does not name the ConfigMap

		Expect(w.Current().SecretKey("acme-gms", "password")).To(Equal([]byte(password)))
		_, err := w.Current().ConfigMapKey("agents", "agents.yaml")
		Expect(err).To(MatchError(`ConfigMap "agents" not found yet: the runner's Role does not allow reading it (yet)`))

		f.grant()
		Eventually(func() (string, error) { return w.Current().ConfigMapKey("agents", "agents.yaml") }).
			WithTimeout(30 * time.Second).Should(Equal(directory))
	})

	It("stops watching a reference the gateway no longer names", func() {
		f := newFixture(true)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		f.createDirectory()
		w := f.start()
		Expect(w.Current().ConfigMaps).To(HaveKey("agents"))

		f.updateGateway(func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.AgentDirectory = nil })
		Eventually(func() map[string]string { return w.Current().ResourceVersions() }).
			ShouldNot(HaveKey("ConfigMap/agents"))
		Expect(w.Current().ConfigMaps).To(BeEmpty())
		_, err := w.Current().ConfigMapKey("agents", "agents.yaml")
		Expect(err).To(MatchError(`ConfigMap "agents" not found: the gateway does not reference it`))
		Expect(f.logs.String()).To(ContainSubstring(`"msg"="Stopped watching reference" "kind"="ConfigMap" "name"="agents"`))
		f.grant() // the operator narrows the Role; nothing breaks
		Expect(w.Current().SecretKey("acme-gms", "password")).To(Equal([]byte(password)))
	})

	It("names the object and the key in errors, never the value", func() {
		f := newFixture(true)
		f.createSecret("acme-gms", map[string]string{"username": "", "password": password})
		f.createSecret("acme-escalation-token", map[string]string{"token": token})
		f.createDirectory()
		snap := f.start().Current()

		_, err := snap.SecretKey("acme-gms", "passwd")
		Expect(err).To(MatchError(`Secret "acme-gms" has no key "passwd"`))
		Expect(errors.Is(err, live.ErrKeyMissing)).To(BeTrue())
		_, err = snap.SecretKey("acme-gms", "username")
		Expect(err).To(MatchError(`Secret "acme-gms" has no key "username" (its value is empty)`))
		_, err = snap.ConfigMapKey("agents", "directory.yaml")
		Expect(err).To(MatchError(`ConfigMap "agents" has no key "directory.yaml"`))
		_, err = snap.SecretKey("unreferenced", "password")
		Expect(err).To(MatchError(`Secret "unreferenced" not found: the gateway does not reference it`))
		Expect(errors.Is(err, live.ErrNotFound)).To(BeTrue())
	})

	It("shows gateway spec edits, but not status-only changes", func() {
		f := newFixture(false)
		f.createSecret("acme-gms", map[string]string{"username": "bot", "password": password})
		w := f.start()
		Expect(w.Current().Gateway.Spec.PollingIntervalSeconds).To(BeEquivalentTo(1))
		drain(w)

		f.updateGateway(func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.PollingIntervalSeconds = 5 })
		Eventually(w.Changed()).Should(Receive())
		Eventually(func() int32 { return w.Current().Gateway.Spec.PollingIntervalSeconds }).Should(BeEquivalentTo(5))
		Expect(w.Current().Gateway.Generation).To(BeEquivalentTo(2))
		Expect(f.logs.String()).To(ContainSubstring(`"msg"="Observed gateway change" "generation"=2`))

		before := f.gw.DeepCopy()
		f.gw.Status.DesiredRunners = 3
		Expect(admin.Status().Patch(ctx, f.gw, client.MergeFrom(before))).To(Succeed())
		Consistently(w.Changed(), "500ms").ShouldNot(Receive())
	})

	It("says what it waits for when the gateway does not exist", func() {
		w, err := live.New(live.Options{Config: cfg, Gateway: types.NamespacedName{Namespace: "nowhere", Name: "acme"}})
		Expect(err).NotTo(HaveOccurred())
		waitCtx, cancelWait := context.WithCancel(ctx)
		cancelWait()
		Expect(w.WaitForGateway(waitCtx)).To(MatchError(ContainSubstring("GenesysGateway nowhere/acme not seen")))
		Expect(w.Current()).NotTo(BeNil())

		_, err = live.New(live.Options{Config: cfg, Gateway: types.NamespacedName{Name: "acme"}})
		Expect(err).To(HaveOccurred())
	})
})
