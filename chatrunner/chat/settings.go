package chat

import (
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Settings are what the engine needs of a gateway's spec. They can change while chats run
// (Manager.Configure): the next poll, the next escalation and the next canned message use
// the new values.
type Settings struct {
	// Domain is the tenant domain an escalation must name.
	Domain string
	// Queue is the escalation queue an escalation must name; empty accepts any.
	Queue string
	// PollInterval is the interval of Refresh Chat per chat.
	PollInterval time.Duration
	// EscalationTimeout ends a chat that no agent joined within it.
	EscalationTimeout time.Duration
	// AvailabilityRefresh re-announces every agent available this often.
	AvailabilityRefresh time.Duration
	// Agents is the number of escalation agents this runner registers (agentsPerNode).
	Agents int
	// MaxChatsPerAgent is the number of chats one agent carries at once.
	MaxChatsPerAgent int
	// SupportPresentContent forwards present content as a pushed URL.
	SupportPresentContent bool
	// TransferBackOnAgentClose hands a chat back to the bot instead of ending it when the
	// agent closes it or a Genesys error ends it.
	TransferBackOnAgentClose bool
	// AgentOverride chooses the agent name the user sees.
	AgentOverride chatv1alpha1.AgentOverride
	// Directory maps lower-case agent e-mail addresses to display names.
	Directory map[string]string
	// CustomAgentName is shown when Genesys gives no usable agent identity; empty for the
	// generic name.
	CustomAgentName string
	// Locale is the locale of canned messages.
	Locale string
	// CannedOverrides replace built-in canned messages by key.
	CannedOverrides map[chatv1alpha1.CannedMessageKey]string
}

// Defaults of settings the spec leaves empty (the CRD schema defaults them too).
const (
	defaultPollInterval        = time.Second
	defaultEscalationTimeout   = 300 * time.Second
	defaultAvailabilityRefresh = 900 * time.Second
	defaultAgents              = 3
	defaultMaxChatsPerAgent    = 1000
)

// SettingsFrom derives the engine's settings from a gateway and its agent directory.
func SettingsFrom(gw *chatv1alpha1.GenesysGateway, directory map[string]string) Settings {
	spec := gw.Spec
	s := Settings{
		Domain:                   spec.Domain,
		Queue:                    spec.EscalationQueue,
		PollInterval:             seconds(spec.PollingIntervalSeconds, defaultPollInterval),
		EscalationTimeout:        seconds(spec.EscalationTimeoutSeconds, defaultEscalationTimeout),
		AvailabilityRefresh:      seconds(spec.AvailabilityRefreshSeconds, defaultAvailabilityRefresh),
		Agents:                   positive(spec.AgentsPerNode, defaultAgents),
		MaxChatsPerAgent:         positive(spec.Runner.MaxChatsPerAgent, defaultMaxChatsPerAgent),
		SupportPresentContent:    spec.SupportPresentContent == nil || *spec.SupportPresentContent,
		TransferBackOnAgentClose: spec.TransferBackOnAgentClose,
		AgentOverride:            spec.AgentOverride,
		Directory:                directory,
		Locale:                   string(spec.ConfigurationLocale),
		CannedOverrides:          map[chatv1alpha1.CannedMessageKey]string{},
	}
	if s.AgentOverride == "" {
		s.AgentOverride = chatv1alpha1.AgentOverrideAgentNameOnly
	}
	if a := spec.CustomAgentInfo; a != nil {
		s.CustomAgentName = strings.TrimSpace(a.FirstName + " " + a.LastName)
	}
	for _, m := range spec.CannedMessages {
		s.CannedOverrides[m.Key] = m.Text
	}
	return s
}

// ParseDirectory reads an agent directory: a YAML map of e-mail address to display name.
// Addresses are matched without regard to case.
func ParseDirectory(doc string) (map[string]string, error) {
	var raw map[string]string
	if err := yaml.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("agent directory is not a YAML map of e-mail to name: %w", err)
	}
	dir := make(map[string]string, len(raw))
	for email, name := range raw {
		dir[strings.ToLower(strings.TrimSpace(email))] = name
	}
	return dir, nil
}

func seconds(v int32, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return time.Duration(v) * time.Second
}

func positive(v int32, def int) int {
	if v <= 0 {
		return def
	}
	return int(v)
}
