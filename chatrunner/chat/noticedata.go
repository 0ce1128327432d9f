package chat

import (
	"maps"
	"slices"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// Bounds of a notice's structured data as it reaches the bot: the bot API's, so that the
// contract a bot reads is the one applied (see there for why).
const (
	maxNoticeDataEntries    = api.MaxEventDataEntries
	maxNoticeDataKeyRunes   = api.MaxEventDataKeyLength
	maxNoticeDataValueRunes = api.MaxEventDataValueLength
)

// noticeData is a Genesys notice's userData within the bounds above, or nil when it has
// none.
func noticeData(userData map[string]string) map[string]string {
	if len(userData) == 0 {
		return nil
	}
	out := make(map[string]string, min(len(userData), maxNoticeDataEntries))
	for _, k := range slices.Sorted(maps.Keys(userData)) {
		if len(out) == maxNoticeDataEntries {
			break
		}
		if len([]rune(k)) > maxNoticeDataKeyRunes {
			continue
		}
		out[k] = cut(userData[k], maxNoticeDataValueRunes)
	}
	return out
}

// cut returns s cut to at most n runes.
func cut(s string, n int) string {
	if len(s) <= n { // bytes bound runes from above
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
