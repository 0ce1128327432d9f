package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/internal/text"
)

func TestTruncate(t *testing.T) {
	g := NewWithT(t)
	g.Expect(text.Truncate("short", 10)).To(Equal("short"), "within the limit: unchanged")
	g.Expect(text.Truncate(strings.Repeat("x", 10), 10)).To(Equal(strings.Repeat("x", 10)), "at the limit: unchanged")
	g.Expect(text.Truncate(strings.Repeat("x", 11), 10)).To(Equal("xxxxxxx…"), "cut and marked within 10 bytes")

	cut := text.Truncate(strings.Repeat("é", 600), text.NoteLimit) // 2 bytes a character
	g.Expect(len(cut)).To(BeNumerically("<=", text.NoteLimit))
	g.Expect(utf8.ValidString(cut)).To(BeTrue(), "never cuts a character in two")
	g.Expect(cut).To(HaveSuffix("…"))

	for n := range 4 {
		short := text.Truncate("éé", n)
		g.Expect(len(short)).To(BeNumerically("<=", n), "a limit below the mark's size cuts without it")
		g.Expect(utf8.ValidString(short)).To(BeTrue())
	}
}
