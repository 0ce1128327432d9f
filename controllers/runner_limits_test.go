package controllers_test

import (
	"fmt"
	"strings"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/report"
)

// A runner's entry holds what others chose: agent names from Genesys or the agent
// directory, conversation ids from the bot, errors from GMS. None may freeze the entry.
var _ = Describe("Runner status entries over the schema's bounds", func() {
	const pod = "acme-runner-0"
	var (
		key    client.ObjectKey
		runner client.Client
	)
	BeforeEach(func() {
		gw := minimalGateway(newNamespace(), "acme")
		gw.Spec.Deploy = true
		key = create(gw)
		expectReady(key, metav1.ConditionUnknown, chatv1alpha1.ProgressingReason)
		runner = runnerClient(key)
	})

	It("would be refused whole as they are", func() {
		entry := overLimitEntry(pod)
		fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&entry)
		Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"runners": []any{fields}}}}
		u.SetGroupVersionKind(chatv1alpha1.GroupVersion.WithKind("GenesysGateway"))
		u.SetNamespace(key.Namespace)
		u.SetName(key.Name)
		err = runner.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner(report.FieldOwnerPrefix+pod), client.ForceOwnership)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("status.runners[0].chats[0].agent: Too long"))
	})

	It("are written clamped by the runner's status writer", func() {
		writeEntry(runner, key, overLimitEntry(pod))

		written := entryOf(Default, key, pod)
		Expect(written.LastError).To(HaveSuffix("…"))
		Expect(utf8.RuneCountInString(written.LastError)).To(BeNumerically("<=", chatv1alpha1.MaxRunnerErrorLength))
		Expect(utf8.RuneCountInString(written.AuthError)).To(BeNumerically("<=", chatv1alpha1.MaxRunnerErrorLength))
		Expect(written.Credentials).To(HaveLen(chatv1alpha1.MaxRunnerCredentials))
		Expect(written.Chats).To(HaveLen(chatv1alpha1.MaxRunnerChats))
		newest := written.Chats[0]
		Expect(newest.ID).To(HavePrefix("r0-0"))
		Expect(newest.Agent).To(HavePrefix("Agent Smith"))
		Expect(utf8.RuneCountInString(newest.Agent)).To(BeNumerically("<=", chatv1alpha1.MaxChatAgentLength))
		Expect(utf8.RuneCountInString(newest.ConversationID)).To(BeNumerically("<=", chatv1alpha1.MaxChatConversationIDLength))
		Expect(utf8.RuneCountInString(newest.GenesysChatID)).To(BeNumerically("<=", chatv1alpha1.MaxChatGenesysChatIDLength))
		Expect(utf8.RuneCountInString(newest.LastError)).To(BeNumerically("<=", chatv1alpha1.MaxChatErrorLength))
	})
})

// overLimitEntry is a pod's entry with every bounded field of its own one over its bound.
func overLimitEntry(pod string) chatv1alpha1.RunnerStatus {
	over := func(prefix string, n int) string { return prefix + strings.Repeat("x", n+1-len(prefix)) }
	entry := chatv1alpha1.RunnerStatus{
		Pod:       pod,
		LastError: over("GMS answered 500: ", chatv1alpha1.MaxRunnerErrorLength),
		AuthError: over("Entra ID refused: ", chatv1alpha1.MaxRunnerErrorLength),
	}
	for i := range chatv1alpha1.MaxRunnerCredentials + 1 {
		entry.Credentials = append(entry.Credentials, chatv1alpha1.CredentialVersion{
			Kind:            "Secret",
			Name:            over(fmt.Sprintf("s%d-", i), chatv1alpha1.MaxCredentialNameLength),
			ResourceVersion: over("1", chatv1alpha1.MaxCredentialVersionLength),
		})
	}
	for i := range chatv1alpha1.MaxRunnerChats + 1 {
		entry.Chats = append(entry.Chats, chatv1alpha1.ChatStatus{
			ID:             over(fmt.Sprintf("r0-%d-", i), chatv1alpha1.MaxChatIDLength),
			ConversationID: over("conv-", chatv1alpha1.MaxChatConversationIDLength),
			GenesysChatID:  over("gms-", chatv1alpha1.MaxChatGenesysChatIDLength),
			State:          chatv1alpha1.ChatConnected,
			Agent:          over("Agent Smith ", chatv1alpha1.MaxChatAgentLength),
			LastError:      over("send failed: ", chatv1alpha1.MaxChatErrorLength),
		})
	}
	return entry
}
