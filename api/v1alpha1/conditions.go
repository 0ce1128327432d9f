package v1alpha1

// Condition types of a GenesysGateway.
const (
	// ReadyCondition is True when the gateway is valid and, if deployed, all its runners
	// are ready; it is always present.
	ReadyCondition = "Ready"
	// ReconcilingCondition is present, True, only while the operator is moving the gateway
	// towards its spec (kstatus).
	ReconcilingCondition = "Reconciling"
	// StalledCondition is present, True, only while the gateway cannot make progress
	// without a change to its spec (kstatus).
	StalledCondition = "Stalled"
	// CredentialsReadyCondition is True when every Secret and ConfigMap the gateway
	// references exists, is granted to the gateway and has the keys it needs.
	CredentialsReadyCondition = "CredentialsReady"
	// RunnersAvailableCondition is True when every desired runner pod is ready; present
	// only while the gateway is deployed.
	RunnersAvailableCondition = "RunnersAvailable"
	// GenesysReachableCondition is True when the runners' Chat API calls succeed. The
	// operator derives it from the runners' entries of status.runners: False while any
	// runner reports a lastError, True once a runner has polled a chat and none reports an
	// error, Unknown until then; absent while the gateway is not deployed. It does not
	// affect Ready: a Genesys outage is not a problem of the gateway's configuration.
	GenesysReachableCondition = "GenesysReachable"
)

// Condition reasons of a GenesysGateway.
const (
	// NotDeployedReason: the configuration is valid and deploy is false.
	NotDeployedReason = "NotDeployed"
	// AvailableReason: every desired runner is ready.
	AvailableReason = "Available"
	// ProgressingReason: runners are being created, updated or are starting.
	ProgressingReason = "Progressing"
	// ReferencesResolvedReason: every referenced Secret and ConfigMap has what it needs.
	ReferencesResolvedReason = "ReferencesResolved"
	// CheckingCredentialsReason: the certificates, keys and CA bundles the gateway
	// references are being parsed (Ready and CredentialsReady Unknown). The operator parses
	// them off its reconcile workers, a few at a time and within a time budget, so that a
	// costly key cannot hold up other gateways; the gateway is reconciled again as soon as
	// the verdict is known.
	CheckingCredentialsReason = "CheckingCredentials"
	// SecretNotFoundReason: a referenced Secret does not exist.
	SecretNotFoundReason = "SecretNotFound"
	// SecretKeyMissingReason: a referenced Secret lacks a key it needs.
	SecretKeyMissingReason = "SecretKeyMissing"
	// ConfigMapNotFoundReason: a referenced ConfigMap does not exist.
	ConfigMapNotFoundReason = "ConfigMapNotFound"
	// ConfigMapKeyMissingReason: a referenced ConfigMap lacks a key it needs.
	ConfigMapKeyMissingReason = "ConfigMapKeyMissing"
	// SecretNotGrantedReason: a referenced Secret does not grant itself to the gateway (the
	// label chat.gatewayops.io/grant, and for "listed" the annotation
	// chat.gatewayops.io/gateways), so the runners may not read it; the message says how
	// to grant it. Naming a Secret is not enough: the gateway's author also chooses where
	// its credentials are sent.
	SecretNotGrantedReason = "SecretNotGranted"
	// ConfigMapNotGrantedReason: a referenced ConfigMap does not grant itself to the
	// gateway, as SecretNotGrantedReason.
	ConfigMapNotGrantedReason = "ConfigMapNotGranted"
	// InvalidConfigurationReason: the configuration cannot work until the spec changes.
	InvalidConfigurationReason = "InvalidConfiguration"
	// RunnerImageNotAllowedReason: spec.runner.image is outside the repositories the
	// operator runs (--allowed-runner-images); the message names the image and the allowed
	// prefixes. A runner reads the gateway's Secrets, so a tenant must not choose code the
	// platform has not vetted to run with them.
	RunnerImageNotAllowedReason = "RunnerImageNotAllowed"
	// ReconciliationFailedReason: a call to the API server failed; it is retried.
	ReconciliationFailedReason = "ReconciliationFailed"
	// PollSucceededReason: a runner has polled a chat on Genesys and no runner reports an
	// error.
	PollSucceededReason = "PollSucceeded"
	// GenesysUnreachableReason: a runner reports an error of the Chat API; the message
	// names the runners and their errors.
	GenesysUnreachableReason = "GenesysUnreachable"
	// AuthenticationFailedReason: a runner cannot authenticate to Genesys (an Entra ID
	// token it cannot obtain, credentials GMS refuses); the message names the runners and
	// the problem.
	AuthenticationFailedReason = "AuthenticationFailed"
	// NoChatsReason: no runner has polled a chat yet, so whether Genesys is reachable is
	// unknown.
	NoChatsReason = "NoChats"
	// ProbingGenesysReason: the runners run, but not every one has had an answer from
	// Genesys yet (a call or its start-up probe): Ready waits for it (Unknown, Reconciling).
	ProbingGenesysReason = "ProbingGenesys"
)
