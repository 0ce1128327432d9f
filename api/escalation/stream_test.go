package escalation_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// How the client reads event streams the runner would hardly send.

// sse answers with an event stream of body.
func sse(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, body)
	}
}

func TestStreamSendsTheResumePointAndSkipsComments(t *testing.T) {
	srv, seen := stub(t, sse(": hello\n\nid: 4\nevent: message\nretry: 10\ndata: {\"seq\":4,\n:mid-event comment\ndata: \"kind\":\"message\"}\n\nid: 5\nevent: ended\ndata: {\"seq\":5,\"kind\":\"ended\"}\n\n"))
	s, err := escalation.NewClient(srv.URL, "tok", nil).Stream(t.Context(), "r0-a b", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := seen()[0]
	if r.path != "/v1/chats/r0-a%20b/events" || r.query != "after=3" || r.auth != "Bearer tok" {
		t.Fatalf("sent %+v", r)
	}
	e, err := s.Next()
	if err != nil || e.Seq != 4 || e.Kind != escalation.EventMessage {
		t.Fatalf("got %+v, %v; want seq 4 from two data lines", e, err)
	}
	if e, err = s.Next(); err != nil || e.Kind != escalation.EventEnded {
		t.Fatalf("got %+v, %v", e, err)
	}
	if _, err = s.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the terminal event: %v, want io.EOF", err)
	}
}

func TestStreamThatBreaksBeforeTheEndIsNotEOF(t *testing.T) {
	srv, _ := stub(t, sse("id: 1\nevent: notice\ndata: {\"seq\":1,\"kind\":\"notice\"}\n\n"))
	s, err := escalation.NewClient(srv.URL, "tok", nil).Stream(t.Context(), "r0-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF: the bot must resume", err)
	}
}

func TestStreamBoundsItsLines(t *testing.T) {
	srv, _ := stub(t, sse("data: "+strings.Repeat("x", 2<<20)+"\n\n"))
	s, err := escalation.NewClient(srv.URL, "tok", nil).StreamAll(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("got %v, want the line refused", err)
	}
}

func TestStreamRefusesAnAnswerThatIsNotAStream(t *testing.T) {
	srv, _ := stub(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"chatId":"r0-a","events":[],"next":0}`)
	})
	_, err := escalation.NewClient(srv.URL, "tok", nil).Stream(t.Context(), "r0-a", 0)
	if err == nil || !strings.Contains(err.Error(), "not an event stream") {
		t.Fatalf("got %v", err)
	}
}

func TestStreamAllSendsSinceAndReadsChatIDs(t *testing.T) {
	srv, seen := stub(t, sse("id: r1-x:2\nevent: message\ndata: {\"chatId\":\"r1-x\",\"seq\":2,\"kind\":\"message\",\"text\":\"hi\"}\n\n"))
	since := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	s, err := escalation.NewClient(srv.URL, "tok", nil).StreamAll(t.Context(), since)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := seen()[0]; r.path != "/v1/events" || r.query != "since=2026-01-02T15%3A04%3A05Z" {
		t.Fatalf("sent %+v", r)
	}
	e, err := s.Next()
	if err != nil || e.ChatID != "r1-x" || e.Seq != 2 || e.Text != "hi" {
		t.Fatalf("got %+v, %v", e, err)
	}
}
