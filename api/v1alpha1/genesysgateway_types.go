package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GenesysGatewaySpec is the desired state of one tenant's gateway to a Genesys PureEngage
// (GMS) chat service. It holds what the Basic, Configuration and Additional tabs of the
// former admin screen held, plus the operator's own settings (suspend, runner).
//
// +kubebuilder:validation:XValidation:rule="self.agentOverride != 'LookupAgentByEmail' || has(self.agentDirectory)",message="agentOverride LookupAgentByEmail needs spec.agentDirectory: the ConfigMap that maps agent e-mail addresses to display names"
// +kubebuilder:validation:XValidation:rule="(has(self.agentsPerNode) ? self.agentsPerNode : 3) * (has(self.runner) && has(self.runner.maxChatsPerAgent) ? self.runner.maxChatsPerAgent : 1000) <= 10000",message="agentsPerNode x runner.maxChatsPerAgent is how many chats one runner carries; it can be at most 10000, what one runner's durable chat store holds: lower one of them, and add runner.replicas for more chats"
type GenesysGatewaySpec struct {
	// displayName is a human-friendly name for the gateway (Basic tab: Name). The object's
	// metadata.name identifies it; this is only shown.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DisplayName string `json:"displayName,omitempty"`

	// domain is the tenant domain the gateway serves (Basic tab: Domain). Every escalation
	// carries a domain and one for another domain is refused. It labels every child object
	// and is a dimension of the metrics, so it must be a valid label value.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$')",message="domain must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
	Domain string `json:"domain"`

	// gatewayService names the operator deployment that runs this gateway (Basic tab:
	// Gateway Service), like ingressClassName: an operator started with
	// --gateway-service=X reconciles only gateways naming X. Empty selects the operator
	// started without the flag.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="gatewayService must be empty or a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	GatewayService string `json:"gatewayService,omitempty"`

	// deploy runs the gateway's chat runners when true (Basic tab: Deploy). When false the
	// operator validates the configuration and reports it (Ready, reason NotDeployed) but
	// runs no runner pods.
	// +optional
	// +kubebuilder:default=false
	Deploy bool `json:"deploy,omitempty"`

	// configurationLocale is the BCP 47 locale (e.g. en-US) of the canned messages the
	// gateway itself sends to the end user (Basic tab: Configuration Locale). Messages
	// missing from that locale's catalogue fall back to en-US. Empty means en-US.
	// +optional
	ConfigurationLocale Locale `json:"configurationLocale,omitempty"`

	// cannedMessages overrides the text of individual canned messages, whatever the locale.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=16
	CannedMessages []CannedMessage `json:"cannedMessages,omitempty"`

	// connection says how to reach and authenticate to the GMS Chat API v2 (Basic tab:
	// Configuration section).
	// +required
	Connection Connection `json:"connection"`

	// channel is the channel code stamped on every conversation event the gateway reports
	// upstream (Configuration tab: Channel).
	// +optional
	// +kubebuilder:default=genesyspureengage
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Channel string `json:"channel,omitempty"`

	// availabilityRefreshSeconds is how often each runner re-announces its agents as
	// available, so capacity that was marked unavailable comes back by itself
	// (Configuration tab: Availability Refresh Seconds).
	// +optional
	// +kubebuilder:default=900
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=86400
	AvailabilityRefreshSeconds int32 `json:"availabilityRefreshSeconds,omitempty"`

	// escalationQueue is the upstream escalation queue this gateway serves (Configuration
	// tab: Escalation Queue). When set, escalations naming another queue are refused; empty
	// accepts any queue.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	EscalationQueue string `json:"escalationQueue,omitempty"`

	// agentsPerNode is the number of escalation agents each runner pod registers
	// (Configuration tab: Agents per Node). Capacity is
	// runner.replicas x agentsPerNode x runner.maxChatsPerAgent; beyond it new escalations
	// are refused with a retryable error.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=15
	AgentsPerNode int32 `json:"agentsPerNode,omitempty"`

	// supportPresentContent forwards rich "present" content from the bot (a URL with a
	// title) to the agent as a Chat API pushUrl (Configuration tab: Support Present
	// Content). When false such content is refused and the caller is told so.
	// +optional
	// +kubebuilder:default=true
	SupportPresentContent *bool `json:"supportPresentContent,omitempty"`

	// customAgentInfo is the identity shown to the end user when Genesys gives no usable
	// agent identity (Configuration tab: Customer Agent Info). Unset: the gateway's own.
	// +optional
	CustomAgentInfo *CustomAgentInfo `json:"customAgentInfo,omitempty"`

	// transferBackOnAgentClose hands the conversation back to the bot (reported upstream as
	// transferred) instead of ending it when the agent closes the chat or a remote error
	// makes the gateway close it (Configuration tab: Transfer Conversation Back When the
	// Agent Closes). Never on a close by the user.
	// +optional
	// +kubebuilder:default=false
	TransferBackOnAgentClose bool `json:"transferBackOnAgentClose,omitempty"`

	// pollingIntervalSeconds is how often the runner calls Refresh Chat for every active
	// chat (Additional tab: Client Polling Interval). It must stay well under the GMS idle
	// timeout (45 s by default), hence at most 30.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=30
	PollingIntervalSeconds int32 `json:"pollingIntervalSeconds,omitempty"`

	// agentOverride chooses the agent name the end user sees (Additional tab: Agent
	// Override): None shows a generic name, AgentNameOnly the Genesys nickname,
	// LookupAgentByEmail the display name found for the agent's e-mail in agentDirectory.
	// +optional
	// +kubebuilder:default=AgentNameOnly
	AgentOverride AgentOverride `json:"agentOverride,omitempty"`

	// agentDirectory is where agent e-mail addresses map to display names. Required by
	// agentOverride LookupAgentByEmail.
	// +optional
	AgentDirectory *AgentDirectory `json:"agentDirectory,omitempty"`

	// apiRetry is the retry policy of every Chat API call (Additional tab: API Retry).
	// +optional
	// +kubebuilder:default={}
	APIRetry APIRetry `json:"apiRetry,omitempty"`

	// escalationTimeoutSeconds is how long an escalation may wait for an agent; then the
	// chat is disconnected on Genesys and ends with reason EscalationTimeout.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=86400
	EscalationTimeoutSeconds int32 `json:"escalationTimeoutSeconds,omitempty"`

	// suspend stops the operator from reconciling this gateway without deleting anything:
	// running runners keep running as they are. The GitOps convention for a pause.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// runner configures the chat-runner pods the operator deploys when deploy is true.
	// +optional
	// +kubebuilder:default={}
	Runner Runner `json:"runner,omitempty"`
}

// Locale is a BCP 47 language tag such as en-US or fr-CA.
//
// +kubebuilder:validation:MaxLength=35
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$')",message="must be a BCP 47 language tag such as en-US"
type Locale string

// AgentOverride chooses the agent name the end user sees.
//
// +kubebuilder:validation:Enum=None;AgentNameOnly;LookupAgentByEmail
type AgentOverride string

const (
	// AgentOverrideNone shows a generic agent name.
	AgentOverrideNone AgentOverride = "None"
	// AgentOverrideAgentNameOnly shows the agent's Genesys nickname.
	AgentOverrideAgentNameOnly AgentOverride = "AgentNameOnly"
	// AgentOverrideLookupAgentByEmail shows the name the agent directory gives the agent's e-mail.
	AgentOverrideLookupAgentByEmail AgentOverride = "LookupAgentByEmail"
)

// CannedMessageKey names a message the gateway itself sends to the end user.
//
// +kubebuilder:validation:Enum=ConversationClosed;WaitingForAgent;AgentJoined;NoAgentAvailable;ConversationTransferred;TechnicalError;IdleAlert;IdleClose
type CannedMessageKey string

// CannedMessage overrides the text of one canned message.
type CannedMessage struct {
	// key names the message.
	// +required
	Key CannedMessageKey `json:"key"`

	// text replaces the catalogue's text for that message.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Text string `json:"text"`
}

// CustomAgentInfo is an agent identity shown to the end user.
type CustomAgentInfo struct {
	// firstName of the identity shown.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	FirstName string `json:"firstName,omitempty"`

	// lastName of the identity shown.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	LastName string `json:"lastName,omitempty"`

	// locale of the identity shown (BCP 47).
	// +optional
	Locale Locale `json:"locale,omitempty"`
}

// APIRetry is the retry policy of Chat API calls: attempts, then waits growing from
// initialDelayMilliseconds by multiplier, no single wait longer than 30 s.
type APIRetry struct {
	// maxAttempts is the number of attempts per Chat API call; 1 disables retries.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	MaxAttempts int32 `json:"maxAttempts,omitempty"`

	// initialDelayMilliseconds is the wait after the first failed attempt.
	// +optional
	// +kubebuilder:default=4200
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=300000
	InitialDelayMilliseconds int32 `json:"initialDelayMilliseconds,omitempty"`

	// The multiplier's schema is written here, not generated from resource.Quantity
	// (Schemaless): the generated one has a pattern that the API server quotes whole at a
	// value like "abc". The rules below say in words what the pattern and the range mean.

	// multiplier grows each further wait: the previous wait times this (2 means +100%).
	// At least 1 and at most 10; a fraction is written as a string, e.g. "1.5". An
	// unquoted 1.5 is a JSON number, which the API server refuses as "must be of type
	// integer,string": Kubernetes APIs carry no floating-point numbers.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:default="2"
	// +kubebuilder:validation:XValidation:rule="type(self) == int || (type(self) == string && isQuantity(string(self)))",message="multiplier must be a number: an integer such as 2, or a fraction in quotes such as \"1.5\""
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (int(self) >= 1 && int(self) <= 10) : (!isQuantity(string(self)) || (quantity(string(self)).compareTo(quantity('1')) >= 0 && quantity(string(self)).compareTo(quantity('10')) <= 0))",message="multiplier must be between 1 and 10, for example 2 or \"1.5\""
	Multiplier *resource.Quantity `json:"multiplier,omitempty"`
}

// ObjectName is the name of an object in the gateway's namespace.
//
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be a valid object name: lower-case letters, digits, '-' and '.'"
type ObjectName string

// AgentDirectory is a key of a ConfigMap holding a YAML mapping of agent e-mail
// addresses to display names, e.g. "jane.doe@example.com: Jane D.". (ConfigMap keys
// cannot hold an '@', so the mapping lives in one value.)
type AgentDirectory struct {
	// name of the ConfigMap, in the gateway's namespace.
	// +required
	Name ObjectName `json:"name"`

	// key of the ConfigMap that holds the mapping.
	// +optional
	// +kubebuilder:default="agents.yaml"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="key must be a ConfigMap key: letters, digits, '-', '_' or '.'"
	Key string `json:"key,omitempty"`
}

// SecretReference names a Secret in the gateway's namespace. Which keys it must hold is
// said where it is used.
type SecretReference struct {
	// name of the Secret.
	// +required
	Name ObjectName `json:"name"`
}

// GenesysGateway is one tenant's gateway between a bot platform and a Genesys PureEngage
// chat service: the operator runs chat runners for it, and they hand conversations from
// the bot to human agents and back.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.runner.replicas,statuspath=.status.desiredRunners,selectorpath=.status.selector
// +kubebuilder:resource:shortName=gg,categories=genesys
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Deployed",type=boolean,JSONPath=`.spec.deploy`
// +kubebuilder:printcolumn:name="Runners",type=integer,JSONPath=`.status.readyRunners`
// +kubebuilder:printcolumn:name="Desired",type=integer,priority=1,JSONPath=`.status.desiredRunners`
// +kubebuilder:printcolumn:name="Active Chats",type=integer,JSONPath=`.status.activeChats`
// +kubebuilder:printcolumn:name="Domain",type=string,priority=1,JSONPath=`.spec.domain`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be at most 40 lower-case letters, digits and '-', starting with a letter: it prefixes the names of the runner StatefulSet, its pods and Services"
type GenesysGateway struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the gateway.
	// +required
	Spec GenesysGatewaySpec `json:"spec"`

	// status is the observed state of the gateway, written by the operator and, for their
	// own entries under runners, by the chat runners.
	// +optional
	// +kubebuilder:default={observedGeneration:-1}
	Status GenesysGatewayStatus `json:"status,omitempty"`
}

// GenesysGatewayList is a list of GenesysGateways.
//
// +kubebuilder:object:root=true
type GenesysGatewayList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GenesysGateway `json:"items"`
}
