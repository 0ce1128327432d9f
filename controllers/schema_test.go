package controllers_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// The CRD schema, as the real API server applies it: defaults and validation.
var _ = Describe("GenesysGateway schema", func() {
	var namespace string
	BeforeEach(func() { namespace = newNamespace() })

	Describe("defaults", Ordered, func() {
		var gw, withMSAL *chatv1alpha1.GenesysGateway
		BeforeAll(func() {
			namespace := newNamespace()
			// Served by another operator instance, so that status stays untouched.
			gw = minimalGateway(namespace, "minimal")
			gw.Spec.GatewayService = "not-this-operator"
			Expect(k8sClient.Create(ctx, gw)).To(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(gw), gw)).To(Succeed())

			withMSAL = minimalGateway(namespace, "msal")
			withMSAL.Spec.GatewayService = "not-this-operator"
			withMSAL.Spec.Connection.MicrosoftClientCredentials = &chatv1alpha1.MicrosoftClientCredentials{
				Authority:            "https://login.microsoftonline.com/tenant",
				ClientID:             "client",
				Scope:                "api://gms-proxy/.default",
				CertificateSecretRef: chatv1alpha1.SecretReference{Name: "cert"},
			}
			withMSAL.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Name: "private-ca"}}
			Expect(k8sClient.Create(ctx, withMSAL)).To(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(withMSAL), withMSAL)).To(Succeed())
		})

		// Every default of field-map.md, as a minimal gateway reads back.
		DescribeTable("a minimal gateway reads back with the seed's default",
			func(field func() any, want any) { Expect(field()).To(Equal(want)) },
			Entry("Deploy: No", func() any { return gw.Spec.Deploy }, false),
			Entry("Context Path: /genesys/2/chat/", func() any { return gw.Spec.Connection.ContextPath }, chatv1alpha1.ContextPath("/genesys/2/chat/")),
			Entry("Basic Auth Enabled: No", func() any { return gw.Spec.Connection.BasicAuth == nil }, true),
			Entry("Microsoft Client Credentials Auth Enabled: No", func() any { return gw.Spec.Connection.MicrosoftClientCredentials == nil }, true),
			Entry("Obtain Access Token Timeout: 15", func() any { return withMSAL.Spec.Connection.MicrosoftClientCredentials.TokenTimeoutSeconds }, int32(15)),
			Entry("Channel: genesyspureengage", func() any { return gw.Spec.Channel }, "genesyspureengage"),
			Entry("Availability Refresh Seconds: 900", func() any { return gw.Spec.AvailabilityRefreshSeconds }, int32(900)),
			Entry("Agents per Node: 3", func() any { return gw.Spec.AgentsPerNode }, int32(3)),
			Entry("Support Present Content: Yes", func() any { return *gw.Spec.SupportPresentContent }, true),
			Entry("Customer Agent Info: No", func() any { return gw.Spec.CustomAgentInfo == nil }, true),
			Entry("Transfer Conversation Back When the Agent Closes: No", func() any { return gw.Spec.TransferBackOnAgentClose }, false),
			Entry("Client Polling Interval: 1", func() any { return gw.Spec.PollingIntervalSeconds }, int32(1)),
			Entry("Agent Override: Agent Name Only", func() any { return gw.Spec.AgentOverride }, chatv1alpha1.AgentOverrideAgentNameOnly),
			Entry("API Retry Max Attempts: 5", func() any { return gw.Spec.APIRetry.MaxAttempts }, int32(5)),
			Entry("API Retry Back Off Initial Delay Milliseconds: 4200", func() any { return gw.Spec.APIRetry.InitialDelayMilliseconds }, int32(4200)),
			Entry("API Retry Back Off Multiplier: 2", func() any { return gw.Spec.APIRetry.Multiplier.String() }, "2"),
			Entry("escalation timeout: 300 s", func() any { return gw.Spec.EscalationTimeoutSeconds }, int32(300)),
			Entry("suspend: false", func() any { return gw.Spec.Suspend }, false),
			Entry("runner replicas: 1", func() any { return *gw.Spec.Runner.Replicas }, int32(1)),
			Entry("runner maxChatsPerAgent: 1000", func() any { return gw.Spec.Runner.MaxChatsPerAgent }, int32(1000)),
			Entry("runner terminationGracePeriodSeconds: 60", func() any { return *gw.Spec.Runner.TerminationGracePeriodSeconds }, int64(60)),
			Entry("TLS CA bundle kind: ConfigMap", func() any { return withMSAL.Spec.Connection.TLS.CABundle.Kind }, "ConfigMap"),
			Entry("TLS CA bundle key: ca.crt", func() any { return withMSAL.Spec.Connection.TLS.CABundle.Key }, "ca.crt"),
			Entry("status.observedGeneration: -1", func() any { return gw.Status.ObservedGeneration }, int64(-1)),
		)
	})

	DescribeTable("invalid gateways are refused with a message a person understands",
		func(name string, mutate func(*chatv1alpha1.GenesysGateway), message string) {
			gw := minimalGateway(namespace, name)
			mutate(gw)
			err := k8sClient.Create(ctx, gw)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("serviceURL not http(s)", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "ftp://gms.example.com"
		}, "serviceURL must be an absolute http or https URL"),
		Entry("serviceURL relative", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "gms.example.com/chat"
		}, "serviceURL must be an absolute http or https URL"),
		Entry("serviceURL with a query", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "https://gms.example.com/?x=1"
		}, "serviceURL must be an absolute http or https URL without query or fragment"),
		Entry("contextPath without leading /", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ContextPath = "genesys/2/chat/"
		}, "contextPath must start and end with '/'"),
		Entry("contextPath without trailing /", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ContextPath = "/genesys/2/chat"
		}, "contextPath must start and end with '/'"),
		Entry("serviceName of two segments", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceName = "customer/support"
		}, `spec.connection.serviceName: Invalid value: "customer/support": must be a single path segment`),
		Entry("both basic auth and Microsoft client credentials", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "basic"}}
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
		}, "basicAuth and microsoftClientCredentials cannot both be set"),
		Entry("endpoint overrides without Microsoft client credentials", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.EndpointOverrides = map[string]chatv1alpha1.PathSegment{"startTyping": "typingStart"}
		}, "endpointOverrides are only allowed with microsoftClientCredentials"),
		Entry("endpoint override of an unknown operation", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.EndpointOverrides = map[string]chatv1alpha1.PathSegment{"typing": "typingStart"}
		}, "endpointOverrides keys must be Chat API operation names"),
		Entry("endpoint override to two segments", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.EndpointOverrides = map[string]chatv1alpha1.PathSegment{"startTyping": "typing/start"}
		}, "must be a single path segment"),
		Entry("authority over http", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.MicrosoftClientCredentials.Authority = "http://login.example.com/tenant"
		}, "authority must be an absolute https URL"),
		Entry("token timeout over 300 s", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.MicrosoftClientCredentials.TokenTimeoutSeconds = 301
		}, "tokenTimeoutSeconds: Invalid value: 301: spec.connection.microsoftClientCredentials.tokenTimeoutSeconds in body should be less than or equal to 300"),
		Entry("polling interval of 0", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.PollingIntervalSeconds = -1
		}, "pollingIntervalSeconds in body should be greater than or equal to 1"),
		Entry("polling interval near the GMS idle timeout", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.PollingIntervalSeconds = 31
		}, "pollingIntervalSeconds in body should be less than or equal to 30"),
		Entry("16 agents per node", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentsPerNode = 16
		}, "agentsPerNode in body should be less than or equal to 15"),
		Entry("more chats per runner than its store holds", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentsPerNode, gw.Spec.Runner.MaxChatsPerAgent = 15, 1000
		}, "agentsPerNode x runner.maxChatsPerAgent is how many chats one runner carries; it can be at most 10000"),
		Entry("more chats per agent than a store holds with the default 3 agents", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.MaxChatsPerAgent = 3334
		}, "it can be at most 10000, what one runner's durable chat store holds"),
		Entry("more agents than a store holds with the default 1000 chats each", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentsPerNode = 11
		}, "agentsPerNode x runner.maxChatsPerAgent"),
		Entry("21 attempts", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.APIRetry.MaxAttempts = 21
		}, "maxAttempts in body should be less than or equal to 20"),
		Entry("a multiplier below 1", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.APIRetry.Multiplier = new(resource.MustParse("0.5"))
		}, "multiplier must be between 1 and 10"),
		Entry("an initial delay over 5 minutes", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.APIRetry.InitialDelayMilliseconds = 300001
		}, "initialDelayMilliseconds in body should be less than or equal to 300000"),
		Entry("availability refresh under 10 s", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AvailabilityRefreshSeconds = 9
		}, "availabilityRefreshSeconds in body should be greater than or equal to 10"),
		Entry("an unknown agent override", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentOverride = "Nickname"
		}, `supported values: "None", "AgentNameOnly", "LookupAgentByEmail"`),
		Entry("e-mail lookup without a directory", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.AgentOverride = chatv1alpha1.AgentOverrideLookupAgentByEmail
		}, "agentOverride LookupAgentByEmail needs spec.agentDirectory"),
		Entry("a domain that is no label value", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Domain = "acme corp"
		}, "domain must be 1-63 letters, digits"),
		Entry("a Secret name that is no object name", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.BasicAuth = &chatv1alpha1.BasicAuth{SecretRef: chatv1alpha1.SecretReference{Name: "Basic_Auth"}}
		}, "must be a valid object name"),
		Entry("a configuration locale that is no BCP 47 tag", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.ConfigurationLocale = "english"
		}, "must be a BCP 47 language tag"),
		Entry("a name too long to prefix its children", "a-gateway-name-that-is-far-too-long-for-its-children", func(*chatv1alpha1.GenesysGateway) {
		}, "metadata.name must be at most 40 lower-case letters"),
		Entry("a name that cannot name a Service", "1gateway", func(*chatv1alpha1.GenesysGateway) {
		}, "starting with a letter"),
		Entry("a gateway service that is no DNS label", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.GatewayService = "Shard_B"
		}, "gatewayService must be empty or a DNS label"),
		Entry("a CA bundle in something else than a ConfigMap or Secret", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.TLS = &chatv1alpha1.TLS{CABundle: &chatv1alpha1.CABundleReference{Kind: "Pod", Name: "ca"}}
		}, `supported values: "ConfigMap", "Secret"`),
		Entry("0 runners", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Replicas = new(int32(0))
		}, "replicas in body should be greater than or equal to 1"),
		// Tenants do not trust each other: what a gateway may say is bounded.
		Entry("serviceURL with a user name and password", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "https://gms-user:hunter2@gms.example.com:8443"
		}, "serviceURL must not hold a user name or password (user:password@host)"),
		Entry("serviceURL with a user name", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "https://gms-user@gms.example.com/"
		}, "serviceURL must not hold a user name or password"),
		Entry("serviceURL with port 0", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "https://gms.example.com:0"
		}, "serviceURL's port must be between 1 and 65535"),
		Entry("serviceURL with port 99999", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "https://gms.example.com:99999/chat"
		}, "serviceURL's port must be between 1 and 65535"),
		Entry("serviceURL with a port beyond any integer", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ServiceURL = "http://gms.example.com:123456789012345678901234567890"
		}, "serviceURL's port must be between 1 and 65535"),
		Entry("authority with a user name and password", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.MicrosoftClientCredentials.Authority = "https://app:secret@login.example.com/tenant"
		}, "authority must not hold a user name or password"),
		Entry("authority with port 70000", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.MicrosoftClientCredentials.Authority = "https://login.example.com:70000/tenant"
		}, "authority's port must be between 1 and 65535"),
		Entry("contextPath with a '..' segment", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ContextPath = "/genesys/../admin/"
		}, `spec.connection.contextPath: Invalid value: "/genesys/../admin/": contextPath must not hold a '.' or '..' segment`),
		Entry("contextPath of '..' alone", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ContextPath = "/../"
		}, "contextPath must not hold a '.' or '..' segment"),
		Entry("a plain http webhook outside the cluster", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "http://bot.example.com/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}}
		}, "url must be https; plain http only for a cluster-local host"),
		Entry("a webhook with a password", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://u:p@bot.example.com/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}}
		}, "url must not hold a user name or password"),
		Entry("a webhook with a query", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://bot.example.com/hook?k=v", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}}
		}, "url must be an absolute URL without query or fragment"),
		Entry("a webhook timeout of a minute", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://bot.example.com/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}, TimeoutSeconds: 60}
		}, "timeoutSeconds in body should be less than or equal to 30"),
		Entry("contextPath with a '.' segment", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.ContextPath = "/genesys/./chat/"
		}, "contextPath must not hold a '.' or '..' segment"),
		Entry("Entra ID contextPath with a '..' segment", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Connection.MicrosoftClientCredentials = validMSAL()
			gw.Spec.Connection.MicrosoftClientCredentials.ContextPath = "/proxy/../../admin/"
		}, `spec.connection.microsoftClientCredentials.contextPath: Invalid value: "/proxy/../../admin/": contextPath must not hold a '.' or '..' segment`),
		Entry("a runner image with a space", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = "registry.example.com/chat runner:v1"
		}, "image must be an image reference, [registry/]repository[:tag][@digest]"),
		Entry("a runner image with an upper-case repository", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = "registry.example.com/Chat/Runner:v1"
		}, "image must be an image reference"),
		Entry("a runner image with an empty tag", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = "registry.example.com/chat/runner:"
		}, "image must be an image reference"),
		Entry("a runner image with a shell command", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = "registry.example.com/chat/runner;rm -rf /"
		}, "image must be an image reference"),
		Entry("a runner image with a short digest", "a", func(gw *chatv1alpha1.GenesysGateway) {
			gw.Spec.Runner.Image = "registry.example.com/chat/runner@sha256:abc"
		}, "image must be an image reference"),
	)

	// As a user writes them in YAML: values the Go types cannot hold.
	DescribeTable("invalid multipliers are refused in words, not with a regular expression",
		func(multiplier any, message string) {
			err := k8sClient.Create(ctx, unstructuredGateway(namespace, "m", multiplier))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
			Expect(err.Error()).NotTo(ContainSubstring("[0-9]"), "no pattern is quoted")
		},
		Entry("a word", "abc", `spec.apiRetry.multiplier: Invalid value: "abc": multiplier must be a number: an integer such as 2, or a fraction in quotes such as "1.5"`),
		Entry("a number with a unit of its own", "2 times", "multiplier must be a number"),
		Entry("an empty string", "", "multiplier must be a number"),
		Entry("an integer over 10", int64(11), "multiplier must be between 1 and 10"),
		Entry("a fraction over 10", "10.5", "multiplier must be between 1 and 10"),
		Entry("a negative fraction", "-1.5", "multiplier must be between 1 and 10"),
		// A YAML 1.5 is a JSON number: Kubernetes APIs have no floating-point numbers, and
		// the API server says which types it takes before any rule runs.
		Entry("an unquoted fraction", 1.5, `spec.apiRetry.multiplier: Invalid value: "number": spec.apiRetry.multiplier in body must be of type integer,string: "number"`),
	)

	It("accepts what the rules that bound the spec must not refuse", func() {
		valid := map[string]func(*chatv1alpha1.GenesysGateway){
			"port-65535": func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Connection.ServiceURL = "https://gms.example.com:65535" },
			"port-1":     func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Connection.ServiceURL = "http://gms.example.com:1/base" },
			"ipv6":       func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Connection.ServiceURL = "http://[fd00::1]:8080" },
			"at-in-path": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Connection.ServiceURL = "https://gms.example.com/tenant@acme"
			},
			"dotted-path": func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Connection.ContextPath = "/v1.2/..chat../" },
			"image-short": func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Image = "ubuntu" },
			"image-port": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Runner.Image = "registry.example.com:5000/team/chat_runner-x:v1.2.0-rc.1"
			},
			"image-local": func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.Image = "localhost/genesys-gateway-operator:e2e" },
			"webhook-https": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "https://bot.example.com:8443/genesys/events", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"},
					Events: []chatv1alpha1.WebhookEventKind{"message", "ended"}}
			},
			"webhook-svc": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Runner.Webhook = &chatv1alpha1.Webhook{URL: "http://bot.tenant-acme.svc:8080/hook", SigningSecretRef: chatv1alpha1.SecretReference{Name: "hook"}}
			},
			"image-digest": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Runner.Image = "ghcr.io/gatewayops/genesys-gateway-operator@sha256:" + strings.Repeat("0a", 32)
			},
			"image-tag-dig": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.Runner.Image = "ghcr.io/gatewayops/op:v1@sha256:" + strings.Repeat("f", 64)
			},
			"chats-10000": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.AgentsPerNode, gw.Spec.Runner.MaxChatsPerAgent = 10, 1000
			},
			"chats-1x10000": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.AgentsPerNode, gw.Spec.Runner.MaxChatsPerAgent = 1, 10000
			},
			"chats-3x3333": func(gw *chatv1alpha1.GenesysGateway) { gw.Spec.Runner.MaxChatsPerAgent = 3333 },
			"chats-15x666": func(gw *chatv1alpha1.GenesysGateway) {
				gw.Spec.AgentsPerNode, gw.Spec.Runner.MaxChatsPerAgent = 15, 666
			},
		}
		for name, mutate := range valid {
			gw := minimalGateway(namespace, name)
			// Served by another operator instance: only the schema is under test.
			gw.Spec.GatewayService = "not-this-operator"
			mutate(gw)
			Expect(k8sClient.Create(ctx, gw)).To(Succeed(), name)
		}
	})

	It("accepts a multiplier written as a fraction in a string, or as an integer", func() {
		// As a user writes it in YAML: multiplier: "1.5", or multiplier: 3.
		for name, m := range map[string]any{"fraction": "1.5", "integer": int64(3)} {
			u := unstructuredGateway(namespace, name, m)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			gw := &chatv1alpha1.GenesysGateway{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), gw)).To(Succeed())
			Expect(gw.Spec.APIRetry.Multiplier.Cmp(resource.MustParse(fmt.Sprint(m)))).To(BeZero())
		}
	})
})

// unstructuredGateway is a minimal gateway as a user writes it, with an apiRetry
// multiplier of any JSON type.
func unstructuredGateway(namespace, name string, multiplier any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": chatv1alpha1.GroupVersion.String(),
		"kind":       "GenesysGateway",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{
			"domain":     "acme",
			"connection": map[string]any{"serviceURL": "https://gms.example.com", "serviceName": "chat"},
			"apiRetry":   map[string]any{"multiplier": multiplier},
		},
	}}
}

func validMSAL() *chatv1alpha1.MicrosoftClientCredentials {
	return &chatv1alpha1.MicrosoftClientCredentials{
		Authority:            "https://login.microsoftonline.com/tenant",
		ClientID:             "client",
		Scope:                "api://gms-proxy/.default",
		CertificateSecretRef: chatv1alpha1.SecretReference{Name: "cert"},
	}
}
