package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/controllers/render"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

func TestEscalationTLSChangesTheListenerAndTheServicePort(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "tenant"}}
	g.Expect(render.RunnerArgs(gw)).NotTo(ContainElement("--" + gateway.EscalationTLSFlag))
	port := render.EscalationService(gw).Spec.Ports[0]
	g.Expect(*port.Port).To(Equal(int32(80)))
	g.Expect(*port.Name).To(Equal("http"))

	gw.Spec.Runner.EscalationTLS = &chatv1alpha1.EscalationTLS{SecretRef: chatv1alpha1.SecretReference{Name: "api-tls"}}
	g.Expect(render.RunnerArgs(gw)).To(ContainElement("--"+gateway.EscalationTLSFlag), "the listener is in the pod template: turning TLS on rolls the runners")
	port = render.EscalationService(gw).Spec.Ports[0]
	g.Expect(*port.Port).To(Equal(int32(443)))
	g.Expect(*port.Name).To(Equal("https"))

	var tlsRef *gateway.Reference
	for _, r := range gateway.References(gw) {
		if r.Field == gateway.FieldEscalationTLS {
			tlsRef = &r
		}
	}
	g.Expect(tlsRef).NotTo(BeNil(), "the runner reads the certificate's Secret, so its Role names it")
	g.Expect(tlsRef.Keys).To(ConsistOf("tls.crt", "tls.key"))
}
