package chatrunner

import (
	"context"
	"io"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestMainRefusesAGatewayThatIsNotNamespaceName(t *testing.T) {
	for _, arg := range []string{"", "acme", "/acme", "tenant/"} {
		if code := MainWithEnv(context.Background(), []string{"--gateway=" + arg}, func(string) string { return "" }, io.Discard); code != 2 {
			t.Errorf("--gateway=%q: exit code %d, want 2", arg, code)
		}
	}
}

func TestMainRefusesToStartOutsideAClusterWithoutKubeconfig(t *testing.T) {
	code := MainWithEnv(context.Background(), []string{"--gateway=tenant/acme"}, func(string) string { return "" }, io.Discard)
	NewWithT(t).Expect(code).To(Equal(1))
}

func TestOrdinalIsThePodNameSuffix(t *testing.T) {
	g := NewWithT(t)
	g.Expect(ordinal("acme-runner-0")).To(Equal(0))
	g.Expect(ordinal("acme-runner-12")).To(Equal(12))
	g.Expect(ordinal("laptop")).To(Equal(0))
}

func TestGMSSettingsFollowTheGateway(t *testing.T) {
	g := NewWithT(t)
	gw := &chatv1alpha1.GenesysGateway{Spec: chatv1alpha1.GenesysGatewaySpec{
		Connection: chatv1alpha1.Connection{
			ServiceURL: "https://gms.example", ContextPath: "/genesys/2/chat/", ServiceName: "support",
			EndpointOverrides: map[string]chatv1alpha1.PathSegment{"startTyping": "typingStart"},
		},
		APIRetry: chatv1alpha1.APIRetry{MaxAttempts: 4, InitialDelayMilliseconds: 1500, Multiplier: ptr.To(resource.MustParse("1.5"))},
	}}
	s := gmsSettings(gw)
	g.Expect(s.ServiceURL).To(Equal("https://gms.example"))
	g.Expect(s.ContextPath).To(Equal("/genesys/2/chat/"))
	g.Expect(s.ServiceName).To(Equal("support"))
	g.Expect(s.Overrides).To(Equal(map[gms.Operation]string{gms.OpStartTyping: "typingStart"}))
	g.Expect(s.Retry).To(Equal(gms.RetryPolicy{MaxAttempts: 4, InitialDelay: 1500 * time.Millisecond, Multiplier: 1.5}))

	gw.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{ContextPath: "/proxy/chat/"}
	g.Expect(gmsSettings(gw).ContextPath).To(Equal("/proxy/chat/"), "the Entra ID context path replaces the connection's")
}
