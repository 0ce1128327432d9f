package report

import (
	"slices"
	"unicode/utf8"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Bounds of a runner's entry in the CRD's schema: an entry beyond them would be refused.
const (
	maxChats       = 20
	maxErrorLength = 1024
)

// clamp fits an entry within the CRD's bounds, keeping the newest chats and the start of
// each error. The source's slices are not modified.
func clamp(entry chatv1alpha1.RunnerStatus) chatv1alpha1.RunnerStatus {
	entry.LastError = truncate(entry.LastError, maxErrorLength)
	chats := entry.Chats[:min(len(entry.Chats), maxChats)]
	if slices.ContainsFunc(chats, func(c chatv1alpha1.ChatStatus) bool { return len(c.LastError) > maxErrorLength }) {
		chats = slices.Clone(chats)
		for i := range chats {
			chats[i].LastError = truncate(chats[i].LastError, maxErrorLength)
		}
	}
	entry.Chats = chats
	return entry
}

// truncate shortens s to at most n bytes, cutting at a character boundary and marking the
// cut with an ellipsis. n bytes are at most n characters: the unit of the schema's
// maxLength and of an event's note limit alike.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
