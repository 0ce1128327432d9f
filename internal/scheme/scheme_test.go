package scheme_test

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

func TestSchemeKnowsTheGatewayAndTheBuiltInTypes(t *testing.T) {
	g := NewWithT(t)
	s := scheme.New()
	for _, obj := range []runtime.Object{&chatv1alpha1.GenesysGateway{}, &chatv1alpha1.GenesysGatewayList{}, &corev1.Secret{}, &eventsv1.Event{}} {
		gvks, _, err := s.ObjectKinds(obj)
		g.Expect(err).NotTo(HaveOccurred(), "%T", obj)
		g.Expect(gvks).NotTo(BeEmpty())
	}
}
