package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GenesysGatewayStatus is the observed state of a gateway. The operator writes the
// conditions and totals; each runner writes its own entry of runners under a field manager
// of its own.
type GenesysGatewayStatus struct {
	// observedGeneration is the metadata.generation the operator last reconciled; -1 until
	// it has reconciled the gateway once.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready always; Reconciling and Stalled only while true; CredentialsReady,
	// RunnersAvailable and GenesysReachable describe the parts.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// desiredRunners is the number of runner pods the gateway asks for (0 unless deployed).
	// +optional
	DesiredRunners int32 `json:"desiredRunners"`

	// readyRunners is the number of runner pods ready to serve.
	// +optional
	ReadyRunners int32 `json:"readyRunners"`

	// selector selects the gateway's runner pods, as a label selector string: the scale
	// subresource's selector, for a HorizontalPodAutoscaler (kubectl scale gg/<name> and
	// an HPA set spec.runner.replicas).
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Selector string `json:"selector,omitempty"`

	// escalationTokenSecretName is the Secret holding the escalation API's bearer token
	// (key token): the one named by spec.runner.escalationTokenSecretRef or the one the
	// operator generated.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	EscalationTokenSecretName string `json:"escalationTokenSecretName,omitempty"`

	// ChatCounters are the gateway's totals: the sums of the runners' entries.
	ChatCounters `json:",inline"`

	// chatStores are the runner ordinals that have a durable chat store (Secrets
	// <name>-chats-<ordinal>-<shard> and the Lease <name>-chats-<ordinal>): every ordinal
	// below spec.runner.replicas, and those of removed runners until their chats are
	// adopted. The runners read it to know which chats may need adopting.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Minimum=0
	// +kubebuilder:validation:items:Maximum=19
	ChatStores []int32 `json:"chatStores,omitempty"`

	// runners holds one entry per runner pod, written by that runner.
	// +optional
	// +listType=map
	// +listMapKey=pod
	// +kubebuilder:validation:MaxItems=20
	Runners []RunnerStatus `json:"runners,omitempty"`
}

// ChatCounters counts agents and chats.
type ChatCounters struct {
	// agents registered.
	// +optional
	Agents int32 `json:"agents"`

	// capacity is the number of chats that can run at once.
	// +optional
	Capacity int32 `json:"capacity"`

	// activeChats are chats not yet ended (waiting or connected).
	// +optional
	ActiveChats int32 `json:"activeChats"`

	// waitingChats are chats waiting for an agent.
	// +optional
	WaitingChats int32 `json:"waitingChats"`

	// connectedChats are chats with an agent.
	// +optional
	ConnectedChats int32 `json:"connectedChats"`

	// endedChatsTotal counts chats ended, transferred back included, since the runners started.
	// +optional
	EndedChatsTotal int64 `json:"endedChatsTotal"`

	// failedChatsTotal counts chats failed since the runners started.
	// +optional
	FailedChatsTotal int64 `json:"failedChatsTotal"`
}

// Bounds of a runner's entry: the numbers of the MaxLength (characters) and MaxItems
// markers of RunnerStatus, CredentialVersion and ChatStatus, which cannot name a constant.
// A runner clamps its entry to them before writing it (chatrunner/report, cutting strings
// to as many bytes, so never to more characters), because one value over a bound makes
// the API server refuse the whole entry, and every later write of it too; a test compares
// them with the generated CRD so that they cannot drift apart.
const (
	MaxRunnerPodLength          = 253  // RunnerStatus.Pod
	MaxRunnerErrorLength        = 1024 // RunnerStatus.LastError, AuthError, WebhookLastError, StoreError
	MaxRunnerOwnedStores        = 20   // RunnerStatus.OwnedStores, GenesysGatewayStatus.ChatStores
	MaxRunnerCredentials        = 8    // RunnerStatus.Credentials
	MaxCredentialNameLength     = 253  // CredentialVersion.Name
	MaxCredentialVersionLength  = 64   // CredentialVersion.ResourceVersion
	MaxRunnerChats              = 20   // RunnerStatus.Chats
	MaxChatIDLength             = 64   // ChatStatus.ID
	MaxChatConversationIDLength = 256  // ChatStatus.ConversationID
	MaxChatGenesysChatIDLength  = 128  // ChatStatus.GenesysChatID
	MaxChatAgentLength          = 256  // ChatStatus.Agent
	MaxChatErrorLength          = 1024 // ChatStatus.LastError
)

// RunnerStatus is one runner pod's report.
type RunnerStatus struct {
	// pod is the runner pod's name (stable: the StatefulSet's ordinal name).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Pod string `json:"pod"`

	// ChatCounters are this runner's counts.
	ChatCounters `json:",inline"`

	// lastPollTime is when a Refresh Chat call last succeeded.
	// +optional
	LastPollTime *metav1.Time `json:"lastPollTime,omitempty"`

	// lastGenesysAnswerTime is when Genesys last answered one of the runner's Chat API
	// calls or probes (a runner without a call answered lately probes GMS itself: at
	// start, every 30 s while idle, every 10 s while failing).
	// +optional
	LastGenesysAnswerTime *metav1.Time `json:"lastGenesysAnswerTime,omitempty"`

	// genesysFailures counts the runner's Chat API calls and probes since Genesys last
	// answered one: the operator turns Ready False after 3 (so one lost call does not flap
	// GitOps health), and back to True on the first answer.
	// +optional
	GenesysFailures int32 `json:"genesysFailures,omitempty"`

	// pollLagMilliseconds is how late the runner's polls started, at most, in the last 10 s:
	// a runner short of CPU falls behind its schedule. While lateness spreads (more than 1%
	// of its polls over a tenth of the interval late) or exceeds an interval, it refuses new
	// escalations (503, Retry-After) until it catches up.
	// +optional
	PollLagMilliseconds int64 `json:"pollLagMilliseconds,omitempty"`

	// lastError is the runner's last Genesys error, without any credential.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastError string `json:"lastError,omitempty"`

	// authError is the runner's current failure to authenticate to Genesys (an Entra ID
	// token it cannot obtain, credentials GMS refuses), empty when there is none. It never
	// holds a credential.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	AuthError string `json:"authError,omitempty"`

	// credentials are the Secrets and ConfigMaps the runner uses, with the resourceVersion
	// of each it has in use: a rotation shows here once the runner has picked it up. Never
	// their content.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Credentials []CredentialVersion `json:"credentials,omitempty"`

	// webhookDelivered counts the events this runner delivered to spec.runner.webhook.
	// +optional
	WebhookDelivered int64 `json:"webhookDelivered,omitempty"`

	// webhookFailed counts the events the webhook refused (a 4xx other than 408 and 429,
	// not retried) or that were lost (their chat forgotten before delivery).
	// +optional
	WebhookFailed int64 `json:"webhookFailed,omitempty"`

	// webhookLastError is the last failed delivery attempt's error, empty once one
	// succeeds after it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	WebhookLastError string `json:"webhookLastError,omitempty"`

	// ownedStores are the runner ordinals whose chats this runner owns now (it holds their
	// Leases): its own, and those it adopted from a stopped or removed runner.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:Minimum=0
	// +kubebuilder:validation:items:Maximum=19
	OwnedStores []int32 `json:"ownedStores,omitempty"`

	// chatsResumed counts the chats this runner took over from a store: its own after a
	// restart, or another runner's.
	// +optional
	ChatsResumed int64 `json:"chatsResumed,omitempty"`

	// chatsAdopted counts the chats of other runners' stores this runner took over.
	// +optional
	ChatsAdopted int64 `json:"chatsAdopted,omitempty"`

	// chatsHandedOver counts the chats this runner gave up to another owner (a graceful
	// stop, a hand-back).
	// +optional
	ChatsHandedOver int64 `json:"chatsHandedOver,omitempty"`

	// storedChats is the number of chat records in the stores this runner owns.
	// +optional
	StoredChats int32 `json:"storedChats,omitempty"`

	// storeWrites counts this runner's writes to its chat stores.
	// +optional
	StoreWrites int64 `json:"storeWrites,omitempty"`

	// storeError is the last failed store write, empty once one succeeds after it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	StoreError string `json:"storeError,omitempty"`

	// updateTime is when the runner last wrote this entry.
	// +optional
	UpdateTime *metav1.Time `json:"updateTime,omitempty"`

	// chats are the runner's current and most recent chats, newest first.
	// +optional
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MaxItems=20
	Chats []ChatStatus `json:"chats,omitempty"`
}

// CredentialVersion is the version of a referenced object a runner has in use.
type CredentialVersion struct {
	// kind is Secret or ConfigMap.
	// +required
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	Kind string `json:"kind"`
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// resourceVersion of the object the runner uses.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// ChatState is where a chat is in its life.
//
// +kubebuilder:validation:Enum=Requesting;WaitingForAgent;Connected;Ended;Transferred;Failed
type ChatState string

// Chat states.
const (
	ChatRequesting      ChatState = "Requesting"
	ChatWaitingForAgent ChatState = "WaitingForAgent"
	ChatConnected       ChatState = "Connected"
	ChatEnded           ChatState = "Ended"
	ChatTransferred     ChatState = "Transferred"
	ChatFailed          ChatState = "Failed"
)

// ChatEndReason says why a chat ended.
//
// +kubebuilder:validation:Enum=AgentClosed;UserClosed;GenesysError;EscalationTimeout;IdleTimeout
type ChatEndReason string

// Chat end reasons.
const (
	EndAgentClosed       ChatEndReason = "AgentClosed"
	EndUserClosed        ChatEndReason = "UserClosed"
	EndGenesysError      ChatEndReason = "GenesysError"
	EndEscalationTimeout ChatEndReason = "EscalationTimeout"
	EndIdleTimeout       ChatEndReason = "IdleTimeout"
)

// ChatStatus is one chat as a runner reports it. It never holds the Genesys secure key.
type ChatStatus struct {
	// id is the runner's id of the chat, as in the escalation API.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ID string `json:"id"`

	// conversationId is the bot's conversation id.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	ConversationID string `json:"conversationId,omitempty"`

	// genesysChatId is the chat's id on Genesys.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	GenesysChatID string `json:"genesysChatId,omitempty"`

	// state of the chat.
	// +required
	State ChatState `json:"state"`

	// agent is the agent's display name, as shown to the end user.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Agent string `json:"agent,omitempty"`

	// requestTime is when the chat was requested.
	// +optional
	RequestTime *metav1.Time `json:"requestTime,omitempty"`

	// connectTime is when an agent joined.
	// +optional
	ConnectTime *metav1.Time `json:"connectTime,omitempty"`

	// endTime is when the chat ended.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`

	// endReason says why it ended.
	// +optional
	EndReason ChatEndReason `json:"endReason,omitempty"`

	// lastError is the chat's last error, without any credential.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastError string `json:"lastError,omitempty"`
}
