package v1alpha1

// Bounds of spec.runner.webhook, matching its markers.
const (
	MaxWebhookURLLength = 2048 // Webhook.URL
	MaxWebhookEvents    = 16   // Webhook.Events
)

// WebhookEventKind is a kind of chat event a webhook may be limited to.
// +kubebuilder:validation:Enum=agentJoined;agentLeft;message;typingStarted;typingStopped;pushUrl;notice;idleAlert;idleClose;ended;transferred;failed
type WebhookEventKind string

// Webhook has the runners POST every agent-side event of their chats to the bot, signed
// per the Standard Webhooks convention (webhook-id, webhook-timestamp, webhook-signature),
// in order per chat and at least once: the bot de-duplicates by webhook-id
// (<chatId>:<seq>).
type Webhook struct {
	// url receives the events (POST, JSON). It must be https, except a cluster-local
	// host (a name ending in .svc or .svc.cluster.local), which may be plain http. No user
	// name or password, query or fragment. The server's certificate is checked against
	// the system's roots, or caBundle; no redirect is followed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != '' && !self.contains('?') && !self.contains('#')",message="url must be an absolute URL without query or fragment, such as https://bot.example.com/genesys/events"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && (url(self).getHostname().endsWith('.svc') || url(self).getHostname().endsWith('.svc.cluster.local')))",message="url must be https; plain http only for a cluster-local host (<service>.<namespace>.svc or .svc.cluster.local)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="url must not hold a user name or password"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getPort() == '' || (size(url(self).getPort()) <= 5 && int(url(self).getPort()) >= 1 && int(url(self).getPort()) <= 65535)",message="url's port must be between 1 and 65535"
	URL string `json:"url"`

	// signingSecretRef names a Secret (granted to the gateway like any other) whose key
	// secret holds the Standard Webhooks signing secret, whsec_<base64 of 24 to 64 random
	// bytes>. During a rotation the key secret.previous may hold the former secret: each
	// delivery is then signed with both. Read live: a rotation applies to the next attempt.
	// +required
	SigningSecretRef SecretReference `json:"signingSecretRef"`

	// caBundle names PEM CA certificates (a ConfigMap or Secret key, granted like any
	// other) the webhook's certificate is checked against instead of the system's roots:
	// for a receiver with a private CA. Read live.
	// +optional
	CABundle *CABundleReference `json:"caBundle,omitempty"`

	// timeoutSeconds bounds one delivery attempt (connect, send, answer).
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=30
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`

	// events limits delivery to these kinds of event. Empty: every event. The webhook-id
	// keeps the event's seq, so a bot sees gaps where kinds are left out.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	Events []WebhookEventKind `json:"events,omitempty"`
}
