package gateway_test

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

func TestGrantedOnlyByTheLabelAndTheGatewaysAnnotation(t *testing.T) {
	g := NewWithT(t)
	grant := func(value string) map[string]string { return map[string]string{gateway.LabelGrant: value} }
	listing := func(names string) map[string]string { return map[string]string{gateway.AnnotationGateways: names} }
	for name, tc := range map[string]struct {
		labels, annotations map[string]string
		gateway             string
		want                bool
	}{
		"no labels":                         {nil, nil, "acme", false},
		"other labels":                      {map[string]string{"app": "acme"}, listing("acme"), "acme", false},
		"all":                               {grant("all"), nil, "acme", true},
		"all, whatever is listed":           {grant("all"), listing("globex"), "acme", true},
		"listed, no annotation":             {grant("listed"), nil, "acme", false},
		"listed, empty annotation":          {grant("listed"), listing(""), "acme", false},
		"listed, the gateway only":          {grant("listed"), listing("acme"), "acme", true},
		"listed, among others, with spaces": {grant("listed"), listing("globex, acme ,initech"), "acme", true},
		"listed, others only":               {grant("listed"), listing("globex,initech"), "acme", false},
		"listed, a prefix is not a name":    {grant("listed"), listing("acme-eu,acm"), "acme", false},
		"listed, names are case-sensitive":  {grant("listed"), listing("ACME"), "acme", false},
		"listed, no gateway named":          {grant("listed"), listing("acme,"), "", false},
		"an unknown value":                  {grant("yes"), listing("acme"), "acme", false},
		"the value's case counts":           {grant("All"), nil, "acme", false},
		"the annotation without the label":  {nil, listing("acme"), "acme", false},
	} {
		g.Expect(gateway.Granted(tc.labels, tc.annotations, tc.gateway)).To(Equal(tc.want), name)
	}
}

func TestGrantListedToGrantsExactlyTheNamedGateways(t *testing.T) {
	g := NewWithT(t)
	labels, annotations := gateway.GrantListedTo("acme", "globex")
	g.Expect(labels).To(Equal(map[string]string{"chat.gatewayops.io/grant": "listed"}))
	g.Expect(annotations).To(Equal(map[string]string{"chat.gatewayops.io/gateways": "acme,globex"}))
	g.Expect(gateway.Granted(labels, annotations, "acme")).To(BeTrue())
	g.Expect(gateway.Granted(labels, annotations, "globex")).To(BeTrue())
	g.Expect(gateway.Granted(labels, annotations, "initech")).To(BeFalse())
}

func TestHowToGrantNamesTheLabelTheAnnotationAndTheGateway(t *testing.T) {
	NewWithT(t).Expect(gateway.HowToGrant("acme")).To(Equal(
		`label it chat.gatewayops.io/grant=listed and add "acme" to its annotation chat.gatewayops.io/gateways ` +
			`(comma-separated gateway names), or label it chat.gatewayops.io/grant=all to grant it to every gateway of the namespace`))
}
