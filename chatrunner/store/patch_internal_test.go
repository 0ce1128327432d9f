package store

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
)

// TestPatchCarriesOnlyTheChanges: the patch of a write fences on the resourceVersion,
// counts the chats, and holds only what changed: a Put of what is written and a Remove of
// what never was are no change.
func TestPatchCarriesOnlyTheChanges(t *testing.T) {
	g := NewWithT(t)
	written := map[string][]byte{"r0-1": []byte("one"), "r0-2": []byte("two")}
	pending := changes{
		"r0-1": []byte("one"),   // unchanged
		"r0-2": nil,             // removed
		"r0-3": []byte("three"), // new
		"r0-4": nil,             // never written
	}
	batch := pending.effective(written)
	g.Expect(batch).To(Equal(changes{"r0-2": nil, "r0-3": []byte("three")}))
	next := apply(written, batch)
	g.Expect(next).To(Equal(map[string][]byte{"r0-1": []byte("one"), "r0-3": []byte("three")}))
	g.Expect(written).To(HaveLen(2), "apply leaves what was written as it is")

	body, err := patchBody("42", len(next), batch)
	g.Expect(err).NotTo(HaveOccurred())
	var got map[string]any
	g.Expect(json.Unmarshal(body, &got)).To(Succeed())
	g.Expect(got).To(Equal(map[string]any{
		"metadata": map[string]any{
			"resourceVersion": "42",
			"annotations":     map[string]any{"chat.gatewayops.io/chats": "2"},
		},
		"data": map[string]any{"r0-2": nil, "r0-3": "dGhyZWU="},
	}))
}

// TestMergeKeepsNewerChanges: a failed batch goes back under the changes made since.
func TestMergeKeepsNewerChanges(t *testing.T) {
	g := NewWithT(t)
	pending := changes{"r0-1": []byte("newer"), "r0-2": nil}
	pending.merge(changes{"r0-1": []byte("older"), "r0-2": []byte("older"), "r0-3": []byte("older")})
	g.Expect(pending).To(Equal(changes{"r0-1": []byte("newer"), "r0-2": nil, "r0-3": []byte("older")}))
}

func TestSameData(t *testing.T) {
	g := NewWithT(t)
	g.Expect(sameData(nil, map[string][]byte{})).To(BeTrue())
	g.Expect(sameData(map[string][]byte{"a": []byte("1")}, map[string][]byte{"a": []byte("1")})).To(BeTrue())
	g.Expect(sameData(map[string][]byte{"a": []byte("1")}, map[string][]byte{"a": []byte("2")})).To(BeFalse())
	g.Expect(sameData(map[string][]byte{"a": []byte("1")}, map[string][]byte{"b": []byte("1")})).To(BeFalse())
}
