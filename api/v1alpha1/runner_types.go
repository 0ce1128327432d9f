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
	// has the chat-runner subcommand.
	// +optional
	// +kubebuilder:validation:MaxLength=512
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
	// +optional
	EscalationTokenSecretRef *SecretReference `json:"escalationTokenSecretRef,omitempty"`

	// terminationGracePeriodSeconds is how long a stopping runner has to hand its chats back.
	// +optional
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=3600
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}
