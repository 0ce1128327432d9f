package gms

import (
	"testing"

	. "github.com/onsi/gomega"
)

func ptr(i int) *int { return &i }

func ev(index int, typ, text string) Event {
	return Event{Index: index, Type: typ, Text: text, From: Participant{Type: ParticipantAgent, Nickname: "Ann"}}
}

func TestTranscriptFollowsNextPosition(t *testing.T) {
	g := NewWithT(t)
	tr := NewTranscript()
	g.Expect(tr.Position()).To(Equal(1))

	got := tr.Accept(&Response{Messages: []Event{ev(1, EventParticipantJoined, "")}, NextPosition: ptr(2)})
	g.Expect(got).To(Equal([]Event{ev(1, EventParticipantJoined, "")}))
	g.Expect(tr.Position()).To(Equal(2))

	// Empty answer: nothing new, position as the server says.
	g.Expect(tr.Accept(&Response{NextPosition: ptr(2)})).To(BeEmpty())
	g.Expect(tr.Position()).To(Equal(2))

	got = tr.Accept(&Response{Messages: []Event{ev(2, EventMessage, "a"), ev(3, EventMessage, "b")}, NextPosition: ptr(4)})
	g.Expect(got).To(Equal([]Event{ev(2, EventMessage, "a"), ev(3, EventMessage, "b")}))
	g.Expect(tr.Position()).To(Equal(4))
}

func TestTranscriptWithoutNextPosition(t *testing.T) {
	g := NewWithT(t)
	tr := NewTranscript()
	got := tr.Accept(&Response{Messages: []Event{ev(1, EventParticipantJoined, "")}})
	g.Expect(got).To(HaveLen(1))
	g.Expect(tr.Position()).To(Equal(2))

	got = tr.Accept(&Response{Messages: []Event{ev(2, EventMessage, "a"), ev(3, EventMessage, "b")}})
	g.Expect(got).To(HaveLen(2))
	g.Expect(tr.Position()).To(Equal(4))

	// Nothing new and no nextPosition: the position stays.
	g.Expect(tr.Accept(&Response{})).To(BeEmpty())
	g.Expect(tr.Position()).To(Equal(4))
}

func TestTranscriptDropsDuplicates(t *testing.T) {
	g := NewWithT(t)
	tr := NewTranscript()
	tr.Accept(&Response{Messages: []Event{ev(1, EventParticipantJoined, ""), ev(2, EventMessage, "a")}, NextPosition: ptr(3)})

	// The last event re-sent before the new ones.
	got := tr.Accept(&Response{Messages: []Event{ev(2, EventMessage, "a"), ev(3, EventMessage, "b")}, NextPosition: ptr(4)})
	g.Expect(got).To(Equal([]Event{ev(3, EventMessage, "b")}))

	// The same event twice in one answer.
	got = tr.Accept(&Response{Messages: []Event{ev(4, EventMessage, "c"), ev(4, EventMessage, "c")}})
	g.Expect(got).To(Equal([]Event{ev(4, EventMessage, "c")}))
	g.Expect(tr.Position()).To(Equal(5))

	// A server whose nextPosition lags behind what it sent: what was seen is not repeated.
	got = tr.Accept(&Response{Messages: []Event{ev(5, EventMessage, "d"), ev(6, EventMessage, "e")}, NextPosition: ptr(5)})
	g.Expect(got).To(HaveLen(2))
	g.Expect(tr.Position()).To(Equal(5))
	got = tr.Accept(&Response{Messages: []Event{ev(5, EventMessage, "d"), ev(6, EventMessage, "e"), ev(7, EventMessage, "f")}, NextPosition: ptr(8)})
	g.Expect(got).To(Equal([]Event{ev(7, EventMessage, "f")}))
	g.Expect(tr.Position()).To(Equal(8))
	g.Expect(tr.seen).To(BeEmpty(), "indexes below the position are forgotten")

	// The position never goes back.
	g.Expect(tr.Accept(&Response{NextPosition: ptr(3)})).To(BeEmpty())
	g.Expect(tr.Position()).To(Equal(8))
}

func TestTranscriptKeepsEventsWithoutIndexAndUnknownTypes(t *testing.T) {
	g := NewWithT(t)
	tr := NewTranscript()
	unknown := Event{
		Index: 1, Type: "CoBrowseStarted", Text: "opaque", MessageType: "x-custom", UTCTime: 1432845088000,
		From:     Participant{Nickname: "bot", ParticipantID: 9, Type: "Robot"},
		UserData: map[string]string{"k": "v"},
	}
	notice := Event{Type: EventNotice, Text: "wait 2 min", From: Participant{Type: ParticipantExternal}}
	got := tr.Accept(&Response{Messages: []Event{notice, unknown, notice}})
	g.Expect(got).To(Equal([]Event{notice, unknown, notice}))
	g.Expect(tr.Position()).To(Equal(2))
}

func TestTranscriptIgnoresUntrustworthyAnswers(t *testing.T) {
	g := NewWithT(t)
	tr := NewTranscript()
	g.Expect(tr.Accept(nil)).To(BeNil())
	g.Expect(tr.Accept(&Response{StatusCode: StatusRecoverable, Messages: []Event{ev(1, EventMessage, "x")}, NextPosition: ptr(9)})).To(BeNil())
	g.Expect(tr.Position()).To(Equal(1))
	// statusCode 2 may carry the last events of the chat.
	g.Expect(tr.Accept(&Response{StatusCode: StatusUnrecoverable, ChatEnded: true, Messages: []Event{ev(1, EventParticipantLeft, "")}})).To(HaveLen(1))
}
