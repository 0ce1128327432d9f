package report

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// limits are the bounds of a runner's entry in api/v1alpha1, by their path in the
// entry's schema: a name for a string's maxLength, a name with [] for a list's maxItems.
var limits = map[string]int{
	"pod":                           chatv1alpha1.MaxRunnerPodLength,
	"lastError":                     chatv1alpha1.MaxRunnerErrorLength,
	"authError":                     chatv1alpha1.MaxRunnerErrorLength,
	"webhookLastError":              chatv1alpha1.MaxRunnerErrorLength,
	"storeError":                    chatv1alpha1.MaxRunnerErrorLength,
	"ownedStores[]":                 chatv1alpha1.MaxRunnerOwnedStores,
	"credentials[]":                 chatv1alpha1.MaxRunnerCredentials,
	"credentials[].name":            chatv1alpha1.MaxCredentialNameLength,
	"credentials[].resourceVersion": chatv1alpha1.MaxCredentialVersionLength,
	"chats[]":                       chatv1alpha1.MaxRunnerChats,
	"chats[].id":                    chatv1alpha1.MaxChatIDLength,
	"chats[].conversationId":        chatv1alpha1.MaxChatConversationIDLength,
	"chats[].genesysChatId":         chatv1alpha1.MaxChatGenesysChatIDLength,
	"chats[].agent":                 chatv1alpha1.MaxChatAgentLength,
	"chats[].lastError":             chatv1alpha1.MaxChatErrorLength,
}

// entrySchema is the schema of a status.runners entry in the generated CRD.
func entrySchema(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "chat.gatewayops.io_genesysgateways.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("the CRD has %d versions, want 1", len(crd.Spec.Versions))
	}
	s := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, step := range []string{"status", "runners"} {
		s = s["properties"].(map[string]any)[step].(map[string]any)
	}
	return s["items"].(map[string]any)
}

// bounds returns every maxLength and maxItems of a schema, by path as in limits.
func bounds(schema map[string]any, path string, out map[string]int) map[string]int {
	if n, ok := schema["maxLength"]; ok {
		out[path] = int(n.(float64))
	}
	if n, ok := schema["maxItems"]; ok {
		out[path+"[]"] = int(n.(float64))
	}
	if items, ok := schema["items"].(map[string]any); ok {
		bounds(items, path+"[]", out)
	}
	properties, _ := schema["properties"].(map[string]any)
	for name, p := range properties {
		bounds(p.(map[string]any), strings.TrimPrefix(path+"."+name, "."), out)
	}
	return out
}

// violations returns the paths of a value (as JSON) that exceed the schema's bounds, as
// the API server counts them: characters and items.
func violations(schema map[string]any, value any, path string, out map[string]bool) map[string]bool {
	switch v := value.(type) {
	case string:
		if n, ok := schema["maxLength"]; ok && utf8.RuneCountInString(v) > int(n.(float64)) {
			out[path] = true
		}
	case []any:
		if n, ok := schema["maxItems"]; ok && len(v) > int(n.(float64)) {
			out[path+"[]"] = true
		}
		for _, item := range v {
			violations(schema["items"].(map[string]any), item, path+"[]", out)
		}
	case map[string]any:
		properties, _ := schema["properties"].(map[string]any)
		for name, field := range v {
			p, ok := properties[name].(map[string]any)
			if !ok {
				out[path+"."+name+" (not in the schema)"] = true
				continue
			}
			violations(p, field, strings.TrimPrefix(path+"."+name, "."), out)
		}
	}
	return out
}

func TestLimitsAreTheCRDsBounds(t *testing.T) {
	g := NewWithT(t)
	g.Expect(bounds(entrySchema(t), "", map[string]int{})).To(Equal(limits),
		"every bound of a runner entry in the CRD has its constant in api/v1alpha1, with the marker's number")
}

// overLimit is an entry with every bounded field one over its bound: strings of two-byte
// characters, so that both a cut within a character and the count in characters show.
func overLimit() chatv1alpha1.RunnerStatus {
	over := func(n int) string { return strings.Repeat("é", n+1) }
	entry := chatv1alpha1.RunnerStatus{
		Pod:       over(chatv1alpha1.MaxRunnerPodLength),
		LastError: over(chatv1alpha1.MaxRunnerErrorLength),
		AuthError: over(chatv1alpha1.MaxRunnerErrorLength),

		WebhookLastError: over(chatv1alpha1.MaxRunnerErrorLength),
		StoreError:       over(chatv1alpha1.MaxRunnerErrorLength),
	}
	for i := range chatv1alpha1.MaxRunnerOwnedStores + 1 {
		entry.OwnedStores = append(entry.OwnedStores, int32(i%chatv1alpha1.MaxRunnerOwnedStores))
	}
	for i := range chatv1alpha1.MaxRunnerCredentials + 1 {
		entry.Credentials = append(entry.Credentials, chatv1alpha1.CredentialVersion{
			Kind:            "Secret",
			Name:            fmt.Sprint(i) + over(chatv1alpha1.MaxCredentialNameLength),
			ResourceVersion: over(chatv1alpha1.MaxCredentialVersionLength),
		})
	}
	for i := range chatv1alpha1.MaxRunnerChats + 1 {
		entry.Chats = append(entry.Chats, chatv1alpha1.ChatStatus{
			ID:             fmt.Sprint(i) + over(chatv1alpha1.MaxChatIDLength),
			ConversationID: over(chatv1alpha1.MaxChatConversationIDLength),
			GenesysChatID:  over(chatv1alpha1.MaxChatGenesysChatIDLength),
			State:          chatv1alpha1.ChatConnected,
			Agent:          over(chatv1alpha1.MaxChatAgentLength),
			LastError:      over(chatv1alpha1.MaxChatErrorLength),
		})
	}
	return entry
}

func TestClampFitsEveryBoundOfTheCRD(t *testing.T) {
	g := NewWithT(t)
	schema := entrySchema(t)
	asJSON := func(entry chatv1alpha1.RunnerStatus) map[string]any {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&entry)
		g.Expect(err).NotTo(HaveOccurred())
		return u
	}

	entry := overLimit()
	before := violations(schema, asJSON(entry), "", map[string]bool{})
	g.Expect(slices.Sorted(maps.Keys(before))).To(Equal(slices.Sorted(maps.Keys(limits))),
		"the entry is over every bound, so the API server would refuse it")

	clamped := clamp(entry)
	g.Expect(violations(schema, asJSON(clamped), "", map[string]bool{})).To(BeEmpty())
	g.Expect(clamped.Chats).To(HaveLen(chatv1alpha1.MaxRunnerChats))
	g.Expect(clamped.Chats[0].ID).To(HavePrefix("0"), "the newest chats are kept")
	g.Expect(clamped.Credentials).To(HaveLen(chatv1alpha1.MaxRunnerCredentials))
	g.Expect(clamped.Chats[0].Agent).To(HaveSuffix("é…"), "cut at a character, the cut marked")
	g.Expect(utf8.ValidString(clamped.Chats[0].Agent)).To(BeTrue())
	g.Expect(entry).To(Equal(overLimit()), "the source is untouched")

	within := chatv1alpha1.RunnerStatus{Pod: "acme-runner-0", Chats: []chatv1alpha1.ChatStatus{{ID: "r0-1", Agent: "Alice"}}}
	g.Expect(clamp(within)).To(Equal(within), "an entry within bounds is written as it is")
}
