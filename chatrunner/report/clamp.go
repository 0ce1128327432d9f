package report

import (
	"slices"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

// Bounds of a runner's entry in the CRD's schema: an entry beyond them would be refused.
const (
	maxChats       = 20
	maxErrorLength = 1024
)

// clamp fits an entry within the CRD's bounds, keeping the newest chats and the start of
// each error. The source's slices are not modified.
func clamp(entry chatv1alpha1.RunnerStatus) chatv1alpha1.RunnerStatus {
	entry.LastError = text.Truncate(entry.LastError, maxErrorLength)
	chats := entry.Chats[:min(len(entry.Chats), maxChats)]
	if slices.ContainsFunc(chats, func(c chatv1alpha1.ChatStatus) bool { return len(c.LastError) > maxErrorLength }) {
		chats = slices.Clone(chats)
		for i := range chats {
			chats[i].LastError = text.Truncate(chats[i].LastError, maxErrorLength)
		}
	}
	entry.Chats = chats
	return entry
}
