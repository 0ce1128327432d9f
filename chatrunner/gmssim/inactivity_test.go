package gmssim

import (
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestInactivityAlertsThenCloses(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	c := newTC(t, Options{Clock: clk, InactivityAlert: 255 * time.Second, InactivityClose: 45 * time.Second})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())

	// Polling is no activity: the alert comes timeout-alert after the last join.
	clk.Step(255 * time.Second)
	a := c.refresh(s, 2)
	g.Expect(types(a.resp.Messages)).To(Equal([]string{gms.EventParticipantJoined}), "not before the timeout")
	clk.Step(time.Second)
	a = c.refresh(s, 3)
	g.Expect(a.resp.Messages).To(Equal([]gms.Event{{
		From: system, Index: 3, Type: gms.EventIdleAlert, UTCTime: start.Add(255 * time.Second).UnixMilli(), Text: idleAlertText,
	}}))

	// The user's message restarts the control: a new alert, and no close, until it is quiet again.
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"still here"}}).resp.StatusCode).To(Equal(gms.StatusOK))
	clk.Step(254 * time.Second)
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeFalse())
	g.Expect(types(chat.Transcript)).To(Equal([]string{gms.EventParticipantJoined, gms.EventParticipantJoined, gms.EventIdleAlert, gms.EventMessage}))

	// Quiet through the alert and timeout-close: the chat closes.
	clk.Step(2*time.Second + 45*time.Second)
	a = c.refresh(s, 5)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(types(a.resp.Messages)).To(Equal([]string{gms.EventIdleAlert, gms.EventIdleClose}))
	g.Expect(a.resp.Messages[1].UTCTime).To(Equal(start.Add(256*time.Second + 300*time.Second).UnixMilli()))
	g.Expect(a.resp.Messages[1].Text).To(Equal(idleCloseText))
}

func TestInactivityControlIsOffByDefault(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	c := newTC(t, Options{Clock: clk})
	s, _ := c.requestChat(nil)
	clk.Step(24 * time.Hour)
	a := c.refresh(s, 2)
	c.g.Expect(a.resp.ChatEnded).To(BeFalse())
	c.g.Expect(a.resp.Messages).To(BeEmpty())
}
