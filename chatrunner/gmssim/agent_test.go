package gmssim

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestAgentSide(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	c := newTC(t, Options{Clock: clk})
	g := c.g
	s, _ := c.requestChat(nil)
	id := s.chatID

	g.Expect(c.sim.AgentMessage(id, "nobody")).To(MatchError(ErrNoAgent))
	g.Expect(c.sim.AgentTyping(id, true)).To(MatchError(ErrNoAgent))
	g.Expect(c.sim.AgentPushURL(id, "u")).To(MatchError(ErrNoAgent))
	g.Expect(c.sim.AgentLeave(id)).To(MatchError(ErrNoAgent))
	g.Expect(c.sim.AgentJoin(id, Agent{})).To(MatchError(ErrNoNickname))

	g.Expect(c.sim.Notice(id, "Estimated wait time: 2 minutes")).To(Succeed())
	clk.Step(time.Second)
	g.Expect(c.sim.AgentJoin(id, Agent{Nickname: "Ann", Email: "ann@example.com"})).To(Succeed())
	g.Expect(c.sim.AgentTyping(id, true)).To(Succeed())
	g.Expect(c.sim.AgentTyping(id, false)).To(Succeed())
	g.Expect(c.sim.AgentMessage(id, "Hi, Ann here")).To(Succeed())
	g.Expect(c.sim.AgentPushURL(id, "https://example.com/kb")).To(Succeed())
	g.Expect(c.sim.Transfer(id, Agent{Nickname: "Bob"})).To(Succeed())
	chat, _ := c.sim.Chat(id)
	g.Expect(chat.Agents).To(Equal([]Agent{{Nickname: "Bob"}}))
	g.Expect(c.sim.AgentMessage(id, "Bob here")).To(Succeed())
	g.Expect(c.sim.AgentLeave(id)).To(Succeed())
	g.Expect(c.sim.Transfer(id, Agent{Nickname: "Cy", Email: "cy@example.com"})).To(Succeed())
	g.Expect(c.sim.AgentJoin(id, Agent{Nickname: "Sup"})).To(Succeed())

	ann := gms.Participant{Nickname: "Ann", ParticipantID: 2, Type: gms.ParticipantAgent}
	bob := gms.Participant{Nickname: "Bob", ParticipantID: 3, Type: gms.ParticipantAgent}
	cy := gms.Participant{Nickname: "Cy", ParticipantID: 4, Type: gms.ParticipantAgent}
	sup := gms.Participant{Nickname: "Sup", ParticipantID: 5, Type: gms.ParticipantAgent}
	ms := start.Add(time.Second).UnixMilli()
	a := c.refresh(s, 2)
	g.Expect(a.resp.Messages).To(Equal([]gms.Event{
		{From: system, Index: 2, Type: gms.EventNotice, Text: "Estimated wait time: 2 minutes", UTCTime: start.UnixMilli()},
		{From: ann, Index: 3, Type: gms.EventParticipantJoined, UTCTime: ms, UserData: map[string]string{gms.AgentEmailKey: "ann@example.com"}},
		{From: ann, Index: 4, Type: gms.EventTypingStarted, UTCTime: ms},
		{From: ann, Index: 5, Type: gms.EventTypingStopped, UTCTime: ms},
		{From: ann, Index: 6, Type: gms.EventMessage, Text: "Hi, Ann here", UTCTime: ms},
		{From: ann, Index: 7, Type: gms.EventPushURL, Text: "https://example.com/kb", UTCTime: ms},
		{From: ann, Index: 8, Type: gms.EventParticipantLeft, UTCTime: ms},
		{From: bob, Index: 9, Type: gms.EventParticipantJoined, UTCTime: ms},
		{From: bob, Index: 10, Type: gms.EventMessage, Text: "Bob here", UTCTime: ms},
		{From: bob, Index: 11, Type: gms.EventParticipantLeft, UTCTime: ms},
		{From: cy, Index: 12, Type: gms.EventParticipantJoined, UTCTime: ms, UserData: map[string]string{gms.AgentEmailKey: "cy@example.com"}},
		{From: sup, Index: 13, Type: gms.EventParticipantJoined, UTCTime: ms},
	}))
	g.Expect(a.resp.ChatEnded).To(BeFalse())
	chat, _ = c.sim.Chat(id)
	g.Expect(chat.Agents).To(Equal([]Agent{{Nickname: "Cy", Email: "cy@example.com"}, {Nickname: "Sup"}}))

	// A snapshot is a deep copy.
	chat.Transcript[2].UserData[gms.AgentEmailKey] = "changed"
	chat.Agents[0].Nickname = "changed"
	again, _ := c.sim.Chat(id)
	g.Expect(again.Transcript[2].UserData[gms.AgentEmailKey]).To(Equal("ann@example.com"))
	g.Expect(again.Agents[0].Nickname).To(Equal("Cy"))

	// Close: every agent leaves, the current one first, and the chat ends.
	g.Expect(c.sim.Close(id)).To(Succeed())
	chat, _ = c.sim.Chat(id)
	g.Expect(chat.Ended).To(BeTrue())
	g.Expect(chat.Agents).To(BeEmpty())
	g.Expect(chat.Transcript[13:]).To(Equal([]gms.Event{
		{From: sup, Index: 14, Type: gms.EventParticipantLeft, UTCTime: ms},
		{From: cy, Index: 15, Type: gms.EventParticipantLeft, UTCTime: ms},
	}))

	for name, err := range map[string]error{
		"join":     c.sim.AgentJoin(id, Agent{Nickname: "Late"}),
		"message":  c.sim.AgentMessage(id, "x"),
		"typing":   c.sim.AgentTyping(id, true),
		"push":     c.sim.AgentPushURL(id, "x"),
		"leave":    c.sim.AgentLeave(id),
		"transfer": c.sim.Transfer(id, Agent{Nickname: "x"}),
		"notice":   c.sim.Notice(id, "x"),
		"close":    c.sim.Close(id),
	} {
		g.Expect(errors.Is(err, ErrChatEnded)).To(BeTrue(), "%s: %v", name, err)
		g.Expect(c.sim.AgentJoin("nope", Agent{Nickname: "x"})).To(MatchError(ErrNoSuchChat))
	}
	g.Expect(c.sim.AgentMessage("nope", "x")).To(MatchError(ErrNoSuchChat))
	g.Expect(c.sim.Close("nope")).To(MatchError(ErrNoSuchChat))
	_, ok := c.sim.Chat("nope")
	g.Expect(ok).To(BeFalse())
}
