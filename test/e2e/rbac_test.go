//go:build e2e

package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

var _ = Describe("The runners' RBAC", Ordered, func() {
	const (
		otherGateway = "globex"           // deploy: false, same namespace
		otherSecret  = "unrelated-secret" // referenced by no gateway
	)
	var (
		t    *tenant
		user string
	)

	BeforeAll(func() {
		t = newTenant()
		user = "system:serviceaccount:" + t.ns + ":" + t.gw.Name + "-runner"
		Expect(k8s.Create(ctx, newGateway(t.ns, otherGateway, t.sim.serviceURL, false))).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.ns, Name: otherSecret},
			StringData: map[string]string{"token": "not-for-the-runner"},
		})).To(Succeed())
		By("waiting for the runner Role and RoleBinding")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: t.gw.Name + "-runner"}, &rbacv1.Role{})).To(Succeed())
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: t.gw.Name + "-runner"}, &rbacv1.RoleBinding{})).To(Succeed())
		}).Should(Succeed())
	})

	// allowed asks the API server whether the runner's ServiceAccount may do something, with
	// the groups its token carries.
	allowed := func(ra authorizationv1.ResourceAttributes) bool {
		GinkgoHelper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + t.ns, "system:authenticated"},
			ResourceAttributes: &ra,
		}}
		Expect(k8s.Create(ctx, sar)).To(Succeed())
		return sar.Status.Allowed
	}
	gg := func(verb, name, subresource string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Namespace: t.ns, Verb: verb, Group: chatv1alpha1.GroupVersion.Group,
			Resource: "genesysgateways", Subresource: subresource, Name: name}
	}
	secret := func(verb, namespace, name string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "secrets", Name: name}
	}

	It("lets a runner read its own gateway, patch its status, read its referenced Secrets and record events", func() {
		Expect(allowed(gg("get", t.gw.Name, ""))).To(BeTrue(), "get its gateway")
		Expect(allowed(gg("watch", t.gw.Name, ""))).To(BeTrue(), "watch its gateway")
		Expect(allowed(gg("patch", t.gw.Name, "status"))).To(BeTrue(), "patch its gateway's status")
		Expect(allowed(secret("get", t.ns, basicAuthSecret))).To(BeTrue(), "get the Basic auth Secret it references")
		Expect(allowed(secret("get", t.ns, t.gw.Name+"-escalation-token"))).To(BeTrue(), "get its escalation token")
		Expect(allowed(authorizationv1.ResourceAttributes{Namespace: t.ns, Verb: "create", Group: "events.k8s.io", Resource: "events"})).
			To(BeTrue(), "create events")
	})

	It("denies a runner everything else: other Secrets, other gateways, its own spec, listing Secrets", func() {
		Expect(allowed(secret("get", t.ns, otherSecret))).To(BeFalse(), "get an unreferenced Secret in its namespace")
		Expect(allowed(secret("list", t.ns, ""))).To(BeFalse(), "list the Secrets of its namespace")
		Expect(allowed(secret("list", "", ""))).To(BeFalse(), "list all Secrets")
		Expect(allowed(gg("get", otherGateway, ""))).To(BeFalse(), "get another gateway")
		Expect(allowed(gg("list", otherGateway, ""))).To(BeFalse(), "list another gateway")
		Expect(allowed(gg("list", "", ""))).To(BeFalse(), "list the gateways of its namespace")
		Expect(allowed(gg("patch", otherGateway, "status"))).To(BeFalse(), "patch another gateway's status")
		Expect(allowed(gg("update", t.gw.Name, ""))).To(BeFalse(), "change its own spec")

		By("kubectl auth can-i, as the issue puts it")
		out, errOut, err := runKubectl("auth", "can-i", "get", "secret/"+otherSecret, "-n", t.ns, "--as="+user)
		// "no", and " - <reason>" when an authorizer gives one.
		Expect(strings.TrimSpace(out)).To(MatchRegexp(`^no( - .*)?$`), "stderr: %s", errOut)
		Expect(err).To(HaveOccurred(), "can-i exits 1 on no")
	})
})
