package report

import (
	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// Bounds of a runner's entry that the writer's tests name; every bound is defined once,
// in api/v1alpha1, next to the markers it matches.
const (
	maxChats       = chatv1alpha1.MaxRunnerChats
	maxErrorLength = chatv1alpha1.MaxRunnerErrorLength
)

// clamp fits an entry within the CRD's bounds: every bounded string is cut to its
// maxLength, every bounded list to its maxItems, keeping the newest chats. Values come
// from outside (Genesys, the agent directory, the bot), and a single one over its bound
// would make the API server refuse the whole entry, every time, freezing it. The keys of
// the lists (chat ids, object names) are the runner's own or Kubernetes names, within
// their bounds already; they are cut too so that nothing is left unbounded. The source's
// slices are not modified.
func clamp(entry chatv1alpha1.RunnerStatus) chatv1alpha1.RunnerStatus {
	entry.Pod = text.Truncate(entry.Pod, chatv1alpha1.MaxRunnerPodLength)
	entry.LastError = text.Truncate(entry.LastError, chatv1alpha1.MaxRunnerErrorLength)
	entry.AuthError = text.Truncate(entry.AuthError, chatv1alpha1.MaxRunnerErrorLength)
	entry.WebhookLastError = text.Truncate(entry.WebhookLastError, chatv1alpha1.MaxRunnerErrorLength)
	entry.StoreError = text.Truncate(entry.StoreError, chatv1alpha1.MaxRunnerErrorLength)
	entry.OwnedStores = clampList(entry.OwnedStores, chatv1alpha1.MaxRunnerOwnedStores, func(k int32) int32 { return k })
	entry.Credentials = clampList(entry.Credentials, chatv1alpha1.MaxRunnerCredentials, clampCredential)
	entry.Chats = clampList(entry.Chats, chatv1alpha1.MaxRunnerChats, clampChat)
	return entry
}

// clampCredential fits one credential version within its bounds.
func clampCredential(c chatv1alpha1.CredentialVersion) chatv1alpha1.CredentialVersion {
	c.Name = text.Truncate(c.Name, chatv1alpha1.MaxCredentialNameLength)
	c.ResourceVersion = text.Truncate(c.ResourceVersion, chatv1alpha1.MaxCredentialVersionLength)
	return c
}

// clampChat fits one chat within its bounds.
func clampChat(c chatv1alpha1.ChatStatus) chatv1alpha1.ChatStatus {
	c.ID = text.Truncate(c.ID, chatv1alpha1.MaxChatIDLength)
	c.ConversationID = text.Truncate(c.ConversationID, chatv1alpha1.MaxChatConversationIDLength)
	c.GenesysChatID = text.Truncate(c.GenesysChatID, chatv1alpha1.MaxChatGenesysChatIDLength)
	c.Agent = text.Truncate(c.Agent, chatv1alpha1.MaxChatAgentLength)
	c.LastError = text.Truncate(c.LastError, chatv1alpha1.MaxChatErrorLength)
	return c
}

// clampList keeps the first maxItems items of a list, each clamped, in a new list.
func clampList[T any](items []T, maxItems int, clampItem func(T) T) []T {
	if len(items) == 0 {
		return items
	}
	out := make([]T, min(len(items), maxItems))
	for i := range out {
		out[i] = clampItem(items[i])
	}
	return out
}
