package chat

import (
	"strings"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// genericAgentName is the name shown when agentOverride is None and the gateway names no
// custom agent.
const genericAgentName = "Agent"

// agentPool is the runner's escalation agents: units of capacity that carry up to
// maxChatsPerAgent chats each. An agent whose chat request Genesys refused is marked
// unavailable, so a failing Genesys sheds new escalations at once instead of piling them
// up. Every agent is back in service on the next successful Chat API call, so a short
// outage costs seconds, not an availabilityRefresh (which stays the upper bound). With
// every agent out of service and no chat left to poll, one escalation at a time is let
// through as a probe: its Request Chat is that next call.
type agentPool struct {
	load        []int
	unavailable []bool
	refreshed   time.Time
	// probing is set while a probe's Request Chat is in flight.
	probing bool
}

// resize follows a change of spec.agentsPerNode; chats keep the agent they have.
func (p *agentPool) resize(n int) {
	for len(p.load) < n {
		p.load = append(p.load, 0)
		p.unavailable = append(p.unavailable, false)
	}
	if len(p.load) > n {
		p.load, p.unavailable = p.load[:n], p.unavailable[:n]
	}
}

// refresh re-announces every agent available when the refresh interval has passed.
func (p *agentPool) refresh(now time.Time, every time.Duration) {
	if now.Sub(p.refreshed) < every {
		return
	}
	p.refreshed = now
	clear(p.unavailable)
}

// available counts the agents that take chats.
func (p *agentPool) available() int {
	n := 0
	for _, u := range p.unavailable {
		if !u {
			n++
		}
	}
	return n
}

// assign picks the least loaded available agent with room, or -1.
func (p *agentPool) assign(perAgent int) int {
	best := -1
	for i, l := range p.load {
		if p.unavailable[i] || l >= perAgent {
			continue
		}
		if best < 0 || l < p.load[best] {
			best = i
		}
	}
	if best >= 0 {
		p.load[best]++
	}
	return best
}

// assignProbe picks the least loaded agent out of service with room for a probe, or -1
// when a probe is in flight already or none has room.
func (p *agentPool) assignProbe(perAgent int) int {
	if p.probing {
		return -1
	}
	best := -1
	for i, l := range p.load {
		if !p.unavailable[i] || l >= perAgent {
			continue
		}
		if best < 0 || l < p.load[best] {
			best = i
		}
	}
	if best >= 0 {
		p.load[best]++
		p.probing = true
	}
	return best
}

// restore puts every agent back in service: Genesys answered a Chat API call.
func (p *agentPool) restore() {
	clear(p.unavailable)
}

// release frees a chat's place on its agent.
func (p *agentPool) release(agent int) {
	if agent >= 0 && agent < len(p.load) && p.load[agent] > 0 {
		p.load[agent]--
	}
}

// markUnavailable takes an agent out of service until the next refresh.
func (p *agentPool) markUnavailable(agent int) {
	if agent >= 0 && agent < len(p.unavailable) {
		p.unavailable[agent] = true
	}
}

// agentOf returns the agent identity the user sees for a Genesys participant, per
// agentOverride: None shows a generic (or the custom) name, AgentNameOnly the Genesys
// nickname, LookupAgentByEmail the directory's name for the agent's e-mail. The custom
// agent name stands in whenever Genesys gives no usable identity.
func agentOf(s *Settings, e gms.Event) Agent {
	email := e.UserData[gms.AgentEmailKey]
	if email == "" && strings.Contains(e.From.Nickname, "@") {
		email = e.From.Nickname
	}
	fallback := s.CustomAgentName
	if fallback == "" {
		fallback = genericAgentName
	}
	nickname := strings.TrimSpace(e.From.Nickname)
	name := nickname
	switch s.AgentOverride {
	case chatv1alpha1.AgentOverrideNone:
		name = fallback
	case chatv1alpha1.AgentOverrideLookupAgentByEmail:
		if n := s.Directory[strings.ToLower(strings.TrimSpace(email))]; n != "" {
			name = n
		}
	}
	if name == "" {
		name = fallback
	}
	return Agent{Name: name, Email: email}
}
