// Package text holds the small string rules both programs apply to what they write into
// the API: the limit of an event's note and how a value is cut to a limit.
package text

import "unicode/utf8"

// NoteLimit is the events.k8s.io limit of an event's note, in bytes.
const NoteLimit = 1024

// Truncate shortens s to at most n bytes, cutting at a character boundary and marking the
// cut with an ellipsis. n bytes are at most n characters: the unit of a schema's maxLength
// and of an event's note limit alike.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	ellipsis := "…"
	if n < len(ellipsis) { // no room for the mark: cut only
		ellipsis, n = "", max(n, 0)
	}
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
