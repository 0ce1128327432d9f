package escalation_test

import (
	"context"
	"encoding/json"
	"errors"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/api/escalation"
)

// The client against the real handler is tested in chatrunner/escalation (client_test.go):
// this package must not import the runner. Here, a stub server checks what the client
// sends and how it reads answers the runner would hardly give.

// recorded is a request the stub server saw.
type recorded struct {
	method, path, query, auth, contentType string
	body                                   string
}

// stub serves answer for every request and records them.
func stub(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var seen []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)})
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), seen...)
	}
}

func TestClientSendsTheTokenAndJSONOnEveryCall(t *testing.T) {
	srv, seen := stub(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/chats":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"r0-1","conversationId":"c","state":"Requesting"}`)
		case strings.HasSuffix(r.URL.Path, "/events"):
			_, _ = io.WriteString(w, `{"chatId":"r0-1","events":[{"seq":3,"kind":"message","agent":"Alice","text":"hi"}],"next":3}`)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = io.WriteString(w, `{"id":"r0-1","conversationId":"c","state":"Ended","endReason":"UserClosed","agent":{"name":"Alice"}}`)
		}
	})
	ctx := context.Background()
	c := escalation.NewClient(srv.URL+"/", "t0ken", srv.Client())

	chat, created, err := c.Escalate(ctx, escalation.Request{ConversationID: "c", Domain: "acme"})
	if err != nil || !created || chat.ID != "r0-1" || chat.State != escalation.ChatRequesting {
		t.Fatalf("Escalate = %+v, %v, %v", chat, created, err)
	}
	if chat, err = c.Chat(ctx, "r0-1"); err != nil || chat.Agent == nil || chat.Agent.Name != "Alice" || !chat.State.Terminal() {
		t.Fatalf("Chat = %+v, %v", chat, err)
	}
	if err := c.SendMessage(ctx, "r0-1", escalation.MessageRequest{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Typing(ctx, "r0-1", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Present(ctx, "r0-1", escalation.PresentRequest{URL: "https://example.com"}); err != nil {
		t.Fatal(err)
	}
	page, err := c.Events(ctx, "r0/1", 2, 1500*time.Millisecond)
	if err != nil || page.Next != 3 || len(page.Events) != 1 || page.Events[0].Kind != escalation.EventMessage {
		t.Fatalf("Events = %+v, %v", page, err)
	}
	if _, err := c.Events(ctx, "r0-1", 0, 0); err != nil {
		t.Fatal(err)
	}
	if chat, err = c.Close(ctx, "r0-1"); err != nil || chat.EndReason != escalation.EndUserClosed {
		t.Fatalf("Close = %+v, %v", chat, err)
	}

	want := []recorded{
		{http.MethodPost, "/v1/chats", "", "Bearer t0ken", "application/json", `{"conversationId":"c","domain":"acme","user":{}}`},
		{http.MethodGet, "/v1/chats/r0-1", "", "Bearer t0ken", "", ""},
		{http.MethodPost, "/v1/chats/r0-1/messages", "", "Bearer t0ken", "application/json", `{"text":"hello"}`},
		{http.MethodPost, "/v1/chats/r0-1/typing", "", "Bearer t0ken", "application/json", `{"typing":false}`},
		{http.MethodPost, "/v1/chats/r0-1/present", "", "Bearer t0ken", "application/json", `{"url":"https://example.com"}`},
		{http.MethodGet, "/v1/chats/r0%2F1/events", "after=2&wait=1.5s", "Bearer t0ken", "", ""},
		{http.MethodGet, "/v1/chats/r0-1/events", "after=0", "Bearer t0ken", "", ""},
		{http.MethodDelete, "/v1/chats/r0-1", "", "Bearer t0ken", "", ""},
	}
	got := seen()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestClientReturnsProblems(t *testing.T) {
	cases := []struct {
		name   string
		answer http.HandlerFunc
		want   escalation.Problem
	}{
		{
			name: "a problem document",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = io.WriteString(w, `{"type":"`+escalation.ProblemInvalidField+`","title":"A field of the request is invalid","status":422,"detail":"queue must be support","field":"queue"}`)
			},
			want: escalation.Problem{Type: escalation.ProblemInvalidField, Title: "A field of the request is invalid", Status: 422, Detail: "queue must be support", Field: "queue"},
		},
		{
			name: "over capacity, with Retry-After",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"type":"`+escalation.ProblemOverCapacity+`","title":"The gateway is at capacity","status":503}`)
			},
			want: escalation.Problem{Type: escalation.ProblemOverCapacity, Title: "The gateway is at capacity", Status: 503, RetryAfter: 10 * time.Second},
		},
		{
			name: "a proxy's error page",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, "<html>bad gateway</html>\n")
			},
			want: escalation.Problem{Type: "about:blank", Title: "Bad Gateway", Status: 502, Detail: "<html>bad gateway</html>"},
		},
		{
			name: "a huge error body, cut",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
			},
			want: escalation.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Detail: strings.Repeat("x", 512) + "…"},
		},
		{
			name: "a problem whose body disagrees with the status line",
			answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"type":"`+escalation.ProblemNotFound+`","title":"No such chat"}`)
			},
			want: escalation.Problem{Type: escalation.ProblemNotFound, Title: "No such chat", Status: 404},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := stub(t, tc.answer)
			_, err := escalation.NewClient(srv.URL, "t", nil).Chat(context.Background(), "r0-1")
			p, ok := errors.AsType[*escalation.Problem](err)
			if !ok {
				t.Fatalf("err = %v (%T), want a *Problem", err, err)
			}
			if *p != tc.want {
				t.Errorf("problem = %+v, want %+v", *p, tc.want)
			}
			if !strings.Contains(p.Error(), tc.want.Title) {
				t.Errorf("Error() = %q", p.Error())
			}
		})
	}
}

func TestClientBoundsAnswersAndHonoursTheContext(t *testing.T) {
	release := make(chan struct{})
	srv, _ := stub(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			select { // a long poll nobody answers
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+strings.Repeat("x", 9<<20)+`"}`)
	})
	defer close(release)
	c := escalation.NewClient(srv.URL, "t", nil)

	if _, err := c.Chat(context.Background(), "r0-1"); err == nil || !strings.Contains(err.Error(), "larger than the client accepts") {
		t.Errorf("an oversized answer: err = %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Events(ctx, "r0-1", 0, 30*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a cancelled long poll: err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the cancelled long poll returned after %s", d)
	}
}

func TestValidateNamesTheFieldAtFault(t *testing.T) {
	tz := func(n int) *int { return &n }
	yes := true
	cases := []struct {
		name  string
		req   interface{ Validate() error }
		field string // "" valid
	}{
		{"a valid escalation", &escalation.Request{ConversationID: "c", Domain: "acme", User: escalation.User{TimeZoneOffsetMinutes: tz(-840)}}, ""},
		{"no conversation", &escalation.Request{Domain: "acme"}, "conversationId"},
		{"a long conversation id", &escalation.Request{ConversationID: strings.Repeat("é", escalation.MaxConversationIDLength+1), Domain: "acme"}, "conversationId"},
		{"at the bound, in characters", &escalation.Request{ConversationID: strings.Repeat("é", escalation.MaxConversationIDLength), Domain: "acme"}, ""},
		{"no domain", &escalation.Request{ConversationID: "c", Domain: " "}, "domain"},
		{"a long e-mail", &escalation.Request{ConversationID: "c", Domain: "a", User: escalation.User{Email: strings.Repeat("e", escalation.MaxEmailLength+1)}}, "user.email"},
		{"a time zone too far", &escalation.Request{ConversationID: "c", Domain: "a", User: escalation.User{TimeZoneOffsetMinutes: tz(841)}}, "user.timeZoneOffsetMinutes"},
		{"a bracket in a key", &escalation.Request{ConversationID: "c", Domain: "a", Attributes: map[string]string{"a[b": "x"}}, "attributes"},
		{"a long value", &escalation.Request{ConversationID: "c", Domain: "a", Attributes: map[string]string{"Plan": strings.Repeat("v", escalation.MaxAttributeValueLength+1)}}, "attributes.Plan"},
		{"not UTF-8", &escalation.Request{ConversationID: "c", Domain: "a", Subject: "\xff"}, "subject"},
		{"a message", &escalation.MessageRequest{Text: "hi"}, ""},
		{"no text", &escalation.MessageRequest{Type: "text"}, "text"},
		{"typing", &escalation.TypingRequest{Typing: &yes}, ""},
		{"no typing", &escalation.TypingRequest{}, "typing"},
		{"a URL", &escalation.PresentRequest{URL: "https://example.com/card"}, ""},
		{"a relative URL", &escalation.PresentRequest{URL: "/card"}, "url"},
		{"another scheme", &escalation.PresentRequest{URL: "javascript:alert(1)"}, "url"},
	}
	for _, tc := range cases {
		err := tc.req.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		fe, ok := errors.AsType[*escalation.FieldError](err)
		if !ok || fe.Field != tc.field {
			t.Errorf("%s: err = %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
}

// The JSON of the types is the contract: field names as the README documents them.
func TestWireNames(t *testing.T) {
	zero := 0
	raw, err := json.Marshal(escalation.Request{
		ConversationID: "c", Domain: "d", Queue: "q", Subject: "s", Locale: "en-US", Attributes: map[string]string{"k": "v"},
		User: escalation.User{FirstName: "f", LastName: "l", Name: "n", Email: "e", TimeZoneOffsetMinutes: &zero},
	})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"conversationId":"c","domain":"d","queue":"q","user":{"firstName":"f","lastName":"l","name":"n","email":"e","timeZoneOffsetMinutes":0},"subject":"s","attributes":{"k":"v"},"locale":"en-US"}`
	if string(raw) != want {
		t.Errorf("escalation request:\n got %s\nwant %s", raw, want)
	}
}

// A bot imports this package: it must not pull the runner, Kubernetes or any module in.
func TestDependsOnTheStandardLibraryOnly(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("imports %s", imp)
		}
	}
}
