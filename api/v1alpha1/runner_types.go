package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// Runner configures the chat-runner pods of a gateway.
type Runner struct {
	// replicas is the number of runner pods. Each registers agentsPerNode agents.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// image overrides the runner image. Default: the operator's own image, whose binary
	// has the chat-runner subcommand. An image reference, [registry/]repository[:tag][@digest];
	// the operator runs it only if its repository is under one of the prefixes it allows
	// (--allowed-runner-images), else the gateway stalls with reason RunnerImageNotAllowed.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])([.]([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$')",message="image must be an image reference, [registry/]repository[:tag][@digest], such as registry.example.com/chat/runner:v1.2.0: no spaces, the repository in lower case"
	Image string `json:"image,omitempty"`

	// imagePullPolicy of the runner container. Default: Kubernetes' default for the image.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// resources of the runner container. Default: requests cpu 100m and memory 128Mi,
	// limit memory 512Mi.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// nodeSelector constrains the runner pods to nodes with these labels.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the runner pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// maxChatsPerAgent is how many chats one agent carries at once.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxChatsPerAgent int32 `json:"maxChatsPerAgent,omitempty"`

	// escalationTokenSecretRef names a Secret whose key token is the bearer token the bot
	// presents to the escalation API. Unset: the operator creates <name>-escalation-token
	// with a random token, owned by the gateway (see status.escalationTokenSecretName).
	// While a rotation overlaps, the key token.previous may hold the former token, which
	// the runners accept as well until it is removed.
	// +optional
	EscalationTokenSecretRef *SecretReference `json:"escalationTokenSecretRef,omitempty"`

	// terminationGracePeriodSeconds is how long a stopping runner has to hand its chats
	// over: it stops taking escalations, writes its chats' final records (bounded at 10 s)
	// and releases its chat store Leases, for a peer or its successor to resume them at
	// once. A runner killed before that is a crash: a peer resumes its chats from their
	// last records once its Lease expires.
	// +optional
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=3600
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`

	// escalationTLS serves the escalation API over HTTPS with a certificate from a Secret,
	// and runners forward calls to each other over HTTPS. Turning it on or off rolls the
	// runner pods (the listener changes); renewing the certificate does not.
	// +optional
	EscalationTLS *EscalationTLS `json:"escalationTLS,omitempty"`

	// networkPolicy configures the NetworkPolicy that admits ingress to the runner pods only
	// from the gateway's bots, its own runners and monitoring. Default: enabled, bots of the
	// gateway's own namespace, monitoring from namespaces labelled metrics: enabled.
	// +optional
	// +kubebuilder:default={}
	NetworkPolicy RunnerNetworkPolicy `json:"networkPolicy,omitempty"`

	// webhook has the runners also push every agent-side event to the bot, signed, in
	// order per chat, at least once (see Webhook).
	// +optional
	Webhook *Webhook `json:"webhook,omitempty"`
}
