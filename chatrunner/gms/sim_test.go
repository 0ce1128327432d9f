package gms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

const service = "customer-support"

// special must cross the wire intact.
const special = "a&b=c+d %25 100% ü 😀\nsecond line\r\n#?/;"

// env is a simulator and a client of it.
type env struct {
	t      *testing.T
	g      *WithT
	sim    *gmssim.Simulator
	srv    *httptest.Server
	client *gms.Client
	clock  *clocktesting.FakeClock
}

// defaultRetry is the retry policy of the simulator tests.
var defaultRetry = gms.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 2}

func newEnv(t *testing.T, simOpts gmssim.Options, mutate func(*gms.Options)) *env {
	t.Helper()
	if simOpts.ServiceName == "" {
		simOpts.ServiceName = service
	}
	sim := gmssim.New(simOpts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	clk := clocktesting.NewFakeClock(epoch)
	opts := gms.Options{
		Settings: gms.Settings{
			ServiceURL:  srv.URL,
			ContextPath: simOpts.ContextPath,
			ServiceName: service,
			Overrides:   simOpts.Overrides,
			Retry:       defaultRetry,
			Timeout:     5 * time.Second,
		},
		Clock: clk,
	}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := gms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, g: NewWithT(t), sim: sim, srv: srv, client: c, clock: clk}
}

// start requests a chat and returns its session and transcript.
func (e *env) start() (*gms.Session, *gms.Transcript) {
	e.t.Helper()
	s, resp, err := e.client.RequestChat(ctx(e.t), gms.ChatRequest{Nickname: "Nick"})
	e.g.Expect(err).NotTo(HaveOccurred())
	tr := gms.NewTranscript()
	e.g.Expect(tr.Accept(resp)).To(HaveLen(1))
	e.g.Expect(tr.Position()).To(Equal(2))
	return s, tr
}

// requests returns the recorded requests of op.
func (e *env) requests(op gms.Operation) []gmssim.Request {
	var out []gmssim.Request
	for _, r := range e.sim.Requests() {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// attempts counts the recorded requests of op.
func (e *env) attempts(op gms.Operation) func() int {
	return func() int { return len(e.requests(op)) }
}

// last returns the last recorded request.
func (e *env) last() gmssim.Request {
	e.t.Helper()
	rs := e.sim.Requests()
	e.g.Expect(rs).NotTo(BeEmpty())
	return rs[len(rs)-1]
}

// chat returns the simulator's view of the chat.
func (e *env) chat(s *gms.Session) gmssim.Chat {
	e.t.Helper()
	c, ok := e.sim.Chat(s.ChatID)
	e.g.Expect(ok).To(BeTrue())
	return c
}

// triple is the session triple of s as a form.
func triple(s *gms.Session) url.Values {
	return url.Values{gms.ParamUserID: {s.UserID}, gms.ParamSecureKey: {s.SecureKey()}, gms.ParamAlias: {s.Alias()}}
}

// with returns the triple of s plus kv pairs.
func with(s *gms.Session, kv ...string) url.Values {
	f := triple(s)
	for i := 0; i < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func TestWireFormatOfEveryOperation(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, resp, err := e.client.RequestChat(ctx(t), gms.ChatRequest{
		FirstName: "First", LastName: "Last", Subject: "Subject to", EmailAddress: "first.last@example.com",
		UserData: map[string]string{"TimeZone": "-60", "topic": "billing"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	req := e.last()
	g.Expect(req.Op).To(Equal(gms.OpRequestChat))
	g.Expect(req.Method).To(Equal(http.MethodPost))
	g.Expect(req.Path).To(Equal("/genesys/2/chat/" + service))
	g.Expect(req.Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
	g.Expect(req.Header.Get("Accept")).To(Equal("application/json"))
	g.Expect(req.Form).To(Equal(url.Values{
		"firstName": {"First"}, "lastName": {"Last"}, "subject": {"Subject to"},
		"emailAddress":       {"first.last@example.com"},
		"userData[TimeZone]": {"-60"}, "userData[topic]": {"billing"},
	}))
	g.Expect(s.ChatID).To(Equal(resp.ChatID))
	g.Expect(s.UserID).To(Equal(resp.UserID))
	g.Expect(s.SecureKey()).To(Equal(resp.SecureKey))
	g.Expect(s.Alias()).To(Equal(resp.Alias))
	c := e.chat(s)
	g.Expect(c.Nickname).To(Equal("First Last"))
	g.Expect(c.Subject).To(Equal("Subject to"))
	g.Expect(c.EmailAddress).To(Equal("first.last@example.com"))
	g.Expect(c.UserData).To(Equal(map[string]string{"TimeZone": "-60", "topic": "billing"}))

	base := "/genesys/2/chat/" + service + "/" + s.ChatID + "/"
	for _, tc := range []struct {
		op   gms.Operation
		call func() (*gms.Response, error)
		path string
		form url.Values
	}{
		{gms.OpRefresh, func() (*gms.Response, error) { return e.client.Refresh(ctx(t), s, 2) },
			"refresh", with(s, "transcriptPosition", "2")},
		{gms.OpSend, func() (*gms.Response, error) { return e.client.Send(ctx(t), s, "hello", "text", 2) },
			"send", with(s, "message", "hello", "messageType", "text", "transcriptPosition", "2")},
		{gms.OpSend, func() (*gms.Response, error) { return e.client.Send(ctx(t), s, "again", "", 0) },
			"send", with(s, "message", "again")},
		{gms.OpStartTyping, func() (*gms.Response, error) { return e.client.StartTyping(ctx(t), s, "he") },
			"startTyping", with(s, "message", "he")},
		{gms.OpStartTyping, func() (*gms.Response, error) { return e.client.StartTyping(ctx(t), s, "") },
			"startTyping", triple(s)},
		{gms.OpStopTyping, func() (*gms.Response, error) { return e.client.StopTyping(ctx(t), s, "hel") },
			"stopTyping", with(s, "message", "hel")},
		{gms.OpPushURL, func() (*gms.Response, error) { return e.client.PushURL(ctx(t), s, "https://example.com/?a=1&b=2") },
			"pushUrl", with(s, "pushUrl", "https://example.com/?a=1&b=2")},
		{gms.OpCustomNotice, func() (*gms.Response, error) { return e.client.CustomNotice(ctx(t), s, "notice") },
			"customNotice", with(s, "message", "notice")},
		{gms.OpUpdateNickname, func() (*gms.Response, error) { return e.client.UpdateNickname(ctx(t), s, "Nick 2") },
			"updateNickname", with(s, "nickname", "Nick 2")},
		{gms.OpUpdateData, func() (*gms.Response, error) {
			return e.client.UpdateData(ctx(t), s, map[string]string{"b": "2", "a": "1"})
		}, "updateData", with(s, "userData[a]", "1", "userData[b]", "2")},
		{gms.OpReadReceipt, func() (*gms.Response, error) { return e.client.ReadReceipt(ctx(t), s, 3) },
			"readReceipt", with(s, "transcriptPosition", "3")},
		{gms.OpFileLimits, func() (*gms.Response, error) { return e.client.Call(ctx(t), gms.OpFileLimits, s, nil) },
			"file/limits", triple(s)},
		{gms.OpDisconnect, func() (*gms.Response, error) { return e.client.Disconnect(ctx(t), s) },
			"disconnect", triple(s)},
	} {
		resp, err := tc.call()
		g.Expect(err).NotTo(HaveOccurred(), string(tc.op))
		g.Expect(resp.StatusCode).To(Equal(0))
		req := e.last()
		g.Expect(req.Op).To(Equal(tc.op))
		g.Expect(req.ChatID).To(Equal(s.ChatID))
		g.Expect(req.Method).To(Equal(http.MethodPost))
		g.Expect(req.Path).To(Equal(base+tc.path), string(tc.op))
		g.Expect(req.Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
		g.Expect(req.Header.Get("Accept")).To(Equal("application/json"))
		g.Expect(req.Form).To(Equal(tc.form), string(tc.op))
	}

	c = e.chat(s)
	g.Expect(c.Nickname).To(Equal("Nick 2"))
	g.Expect(c.UserData).To(HaveKeyWithValue("a", "1"))
	g.Expect(c.Ended).To(BeTrue())
	var types []string
	for _, ev := range c.Transcript {
		types = append(types, ev.Type)
	}
	g.Expect(types).To(Equal([]string{
		gms.EventParticipantJoined, gms.EventMessage, gms.EventMessage, gms.EventTypingStarted,
		gms.EventTypingStarted, gms.EventTypingStopped, gms.EventPushURL, gms.EventCustomNotice,
		gms.EventNicknameUpdated, gms.EventParticipantLeft,
	}))
	g.Expect(c.Transcript[1].MessageType).To(Equal("text"))
	g.Expect(c.Transcript[6].Text).To(Equal("https://example.com/?a=1&b=2"))
}

func TestSendAnswersTheTranscriptDelta(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, tr := e.start()
	g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann", Email: "ann@example.com"})).To(Succeed())
	resp, err := e.client.Send(ctx(t), s, "hi", "", tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	events := tr.Accept(resp)
	g.Expect(events).To(HaveLen(2))
	g.Expect(events[0].Type).To(Equal(gms.EventParticipantJoined))
	g.Expect(events[0].From.Type).To(Equal(gms.ParticipantAgent))
	g.Expect(events[0].UserData).To(HaveKeyWithValue(gms.AgentEmailKey, "ann@example.com"))
	g.Expect(events[1].Text).To(Equal("hi"))
	g.Expect(tr.Position()).To(Equal(4))
}

func TestSpecialCharactersArriveIntact(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, _, err := e.client.RequestChat(ctx(t), gms.ChatRequest{
		Nickname: "Zoë 😀 & co",
		UserData: map[string]string{"note": special, "k&=+%": "v"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = e.client.Send(ctx(t), s, special, "", 0)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = e.client.UpdateData(ctx(t), s, map[string]string{"more": special})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = e.client.PushURL(ctx(t), s, "https://example.com/p?q=a%20b&r=ü#frag")
	g.Expect(err).NotTo(HaveOccurred())

	c := e.chat(s)
	g.Expect(c.Nickname).To(Equal("Zoë 😀 & co"))
	g.Expect(c.UserData).To(Equal(map[string]string{"note": special, "k&=+%": "v", "more": special}))
	g.Expect(c.Transcript[1].Type).To(Equal(gms.EventMessage))
	g.Expect(c.Transcript[1].Text).To(Equal(special))
	g.Expect(c.Transcript[2].Text).To(Equal("https://example.com/p?q=a%20b&r=ü#frag"))

	// And back: the agent's special characters arrive intact in the transcript.
	tr := gms.NewTranscript()
	g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(e.sim.AgentMessage(s.ChatID, special)).To(Succeed())
	resp, err := e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	events := tr.Accept(resp)
	g.Expect(events[len(events)-1].Text).To(Equal(special))
}

func TestOverridesRenameTheLastSegment(t *testing.T) {
	overrides := map[gms.Operation]string{gms.OpStartTyping: "typingStart", gms.OpStopTyping: "typingStop"}
	e := newEnv(t, gmssim.Options{ContextPath: "/api/chat", Overrides: overrides}, func(o *gms.Options) {
		o.Settings.ServiceURL += "/"
		o.Settings.ContextPath = "api/chat/"
	})
	g := e.g
	s, _ := e.start()
	g.Expect(e.last().Path).To(Equal("/api/chat/" + service))
	_, err := e.client.StartTyping(ctx(t), s, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Path).To(Equal("/api/chat/" + service + "/" + s.ChatID + "/typingStart"))
	g.Expect(e.last().Op).To(Equal(gms.OpStartTyping))
	_, err = e.client.StopTyping(ctx(t), s, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Path).To(HaveSuffix("/typingStop"))
	_, err = e.client.Refresh(ctx(t), s, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Path).To(HaveSuffix("/" + s.ChatID + "/refresh"))
}

func TestAliasChangeIsAdoptedOnTheNextCall(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, tr := e.start()
	first := s.Alias()
	e.sim.Inject(gmssim.Fault{Kind: gmssim.FaultAliasChange, Op: gms.OpRefresh, Alias: "342", Times: 1})
	resp, err := e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Form.Get(gms.ParamAlias)).To(Equal(first))
	g.Expect(resp.Alias).To(Equal("342"))
	g.Expect(s.Alias()).To(Equal("342"))

	// The old alias would now be refused with statusCode 1; the next call sends the new one.
	_, err = e.client.Send(ctx(t), s, "after the move", "", 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Form.Get(gms.ParamAlias)).To(Equal("342"))
	g.Expect(e.chat(s).Transcript).To(ContainElement(HaveField("Text", "after the move")))
	g.Expect(e.requests(gms.OpSend)).To(HaveLen(1), "accepted at once")
}

func TestStaleAliasIsRetriedButCannotRecover(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, func(o *gms.Options) { o.Settings.Retry = gms.RetryPolicy{MaxAttempts: 2, InitialDelay: time.Second} })
	g := e.g
	s, _ := e.start()
	stale := gms.NewSession(s.ChatID, s.UserID, s.SecureKey(), "1")
	done := async(func() (*gms.Response, error) { return e.client.Refresh(ctx(t), stale, 1) })
	expectBackoff(g, e.clock, e.attempts(gms.OpRefresh), time.Second)
	err := asGMSError(g, receive(g, done).err)
	g.Expect(err.Code()).To(Equal("status_1"))
	g.Expect(err.Attempts).To(Equal(2))
	g.Expect(err.Errors[0].Code).To(Equal(102))
	g.Expect(e.chat(s).Ended).To(BeFalse())
}

func TestMissingNextPosition(t *testing.T) {
	e := newEnv(t, gmssim.Options{OmitNextPositionOnRequest: true}, nil)
	g := e.g
	s, resp, err := e.client.RequestChat(ctx(t), gms.ChatRequest{Nickname: "Nick"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.NextPosition).To(BeNil())
	tr := gms.NewTranscript()
	g.Expect(tr.Accept(resp)).To(HaveLen(1))
	g.Expect(tr.Position()).To(Equal(2))

	g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(e.sim.AgentMessage(s.ChatID, "one")).To(Succeed())
	e.sim.Inject(gmssim.Fault{Kind: gmssim.FaultOmitNextPosition, Op: gms.OpRefresh, Times: 1})
	resp, err = e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.NextPosition).To(BeNil())
	events := tr.Accept(resp)
	g.Expect(events).To(HaveLen(2))
	g.Expect(events[1].Text).To(Equal("one"))
	g.Expect(tr.Position()).To(Equal(4))

	// The next refresh asks from there: nothing is repeated.
	g.Expect(e.sim.AgentMessage(s.ChatID, "two")).To(Succeed())
	resp, err = e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.last().Form.Get(gms.ParamTranscriptPosition)).To(Equal("4"))
	events = tr.Accept(resp)
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Text).To(Equal("two"))
	g.Expect(tr.Position()).To(Equal(5))
}

func TestDuplicateLastEventIsDropped(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, tr := e.start()
	g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	resp, err := e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tr.Accept(resp)).To(HaveLen(1))

	g.Expect(e.sim.AgentMessage(s.ChatID, "new")).To(Succeed())
	e.sim.Inject(gmssim.Fault{Kind: gmssim.FaultDuplicateLast, Op: gms.OpRefresh, Times: 1})
	resp, err = e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Messages).To(HaveLen(2), "the simulator re-sent the last event")
	events := tr.Accept(resp)
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Text).To(Equal("new"))
	g.Expect(tr.Position()).To(Equal(4))
}

func TestRetriedFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault gmssim.Fault
		code  string
	}{
		{"HTTP 503", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 503}, "http_503"},
		{"HTTP 500", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 500}, "http_500"},
		{"HTTP 502", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 502}, "http_502"},
		{"HTTP 429", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 429}, "http_429"},
		{"HTTP 408", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 408}, "http_408"},
		{"statusCode 1", gmssim.Fault{Kind: gmssim.FaultStatus1}, "status_1"},
		{"malformed JSON", gmssim.Fault{Kind: gmssim.FaultMalformedJSON}, "decode"},
		{"connection reset", gmssim.Fault{Kind: gmssim.FaultReset}, "network"},
		{"timeout", gmssim.Fault{Kind: gmssim.FaultDelay, Delay: 500 * time.Millisecond}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &observer{}
			e := newEnv(t, gmssim.Options{}, func(o *gms.Options) {
				o.Settings.Timeout = 50 * time.Millisecond
				o.Observer = obs
			})
			g := e.g
			s, tr := e.start()
			g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())

			// Once: retried after InitialDelay, then the call succeeds.
			f := tc.fault
			f.Op, f.ChatID, f.Times = gms.OpRefresh, s.ChatID, 1
			e.sim.Inject(f)
			done := async(func() (*gms.Response, error) { return e.client.Refresh(ctx(t), s, tr.Position()) })
			expectBackoff(g, e.clock, e.attempts(gms.OpRefresh), time.Second)
			r := receive(g, done)
			g.Expect(r.err).NotTo(HaveOccurred())
			g.Expect(tr.Accept(r.resp)).To(HaveLen(1))
			rs := e.requests(gms.OpRefresh)
			g.Expect(rs).To(HaveLen(2))
			g.Expect(rs[0].Fault).To(Equal(f.Kind))
			g.Expect(rs[1].Fault).To(BeEmpty())
			calls, retries := obs.snapshot()
			g.Expect(calls[len(calls)-2].err).To(HaveOccurred())
			g.Expect(calls[len(calls)-2].err.(*gms.Error).Code()).To(Equal(tc.code))
			g.Expect(calls[len(calls)-1].err).NotTo(HaveOccurred())
			g.Expect(retries).To(Equal([]gms.Operation{gms.OpRefresh}))

			// Always: retries exhausted after the policy's waits.
			f.Times = 0
			e.sim.Inject(f)
			done = async(func() (*gms.Response, error) { return e.client.Refresh(ctx(t), s, tr.Position()) })
			expectBackoff(g, e.clock, e.attempts(gms.OpRefresh), time.Second)
			expectBackoff(g, e.clock, e.attempts(gms.OpRefresh), 2*time.Second)
			r = receive(g, done)
			err := asGMSError(g, r.err)
			g.Expect(err.Attempts).To(Equal(3))
			g.Expect(err.Retryable()).To(BeTrue())
			g.Expect(err.Code()).To(Equal(tc.code))
			g.Expect(err.Op).To(Equal(gms.OpRefresh))
			g.Expect(err.Error()).To(HaveSuffix("(3 attempts)"))
			g.Expect(err.Error()).NotTo(ContainSubstring(s.SecureKey()))
			g.Expect(e.requests(gms.OpRefresh)).To(HaveLen(5))
			g.Expect(e.clock.HasWaiters()).To(BeFalse())
			if tc.code == "timeout" {
				g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue())
			}
		})
	}
}

func TestNotRetriedFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      gmssim.Fault
		code       string
		httpStatus int
		statusCode int
		chatEnded  bool
		text       string
	}{
		{"statusCode 2, chat ended", gmssim.Fault{Kind: gmssim.FaultStatus2, ChatEnded: true}, "status_2", 200, 2, true,
			"gms refresh: statusCode 2 (chat ended): 249 Media server was not able to execute request (1 attempt)"},
		{"statusCode 2", gmssim.Fault{Kind: gmssim.FaultStatus2, Errors: []gms.APIError{{Code: 8201, Advice: "no such user"}}},
			"status_2", 200, 2, false, "gms refresh: statusCode 2: 8201 no such user (1 attempt)"},
		{"HTTP 400", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 400}, "http_400", 400, 2, false,
			"gms refresh: HTTP 400 Bad Request: statusCode 2: 400 Bad Request (1 attempt)"},
		{"HTTP 401", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 401}, "http_401", 401, 2, false, ""},
		{"HTTP 403", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 403}, "http_403", 403, 2, false, ""},
		{"HTTP 404", gmssim.Fault{Kind: gmssim.FaultHTTPStatus, HTTPStatus: 404}, "http_404", 404, 2, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, gmssim.Options{}, nil)
			g := e.g
			s, tr := e.start()
			f := tc.fault
			f.Op, f.Times = gms.OpRefresh, 1
			e.sim.Inject(f)
			resp, err := e.client.Refresh(ctx(t), s, tr.Position())
			ge := asGMSError(g, err)
			g.Expect(ge.Attempts).To(Equal(1))
			g.Expect(ge.Retryable()).To(BeFalse())
			g.Expect(ge.Code()).To(Equal(tc.code))
			g.Expect(ge.HTTPStatus).To(Equal(tc.httpStatus))
			g.Expect(ge.StatusCode).To(Equal(tc.statusCode))
			g.Expect(ge.ChatEnded).To(Equal(tc.chatEnded))
			g.Expect(resp).NotTo(BeNil(), "the answer's envelope")
			g.Expect(resp.StatusCode).To(Equal(tc.statusCode))
			if tc.text != "" {
				g.Expect(ge.Error()).To(Equal(tc.text))
			}
			g.Expect(ge.Error()).NotTo(ContainSubstring(s.SecureKey()))
			g.Expect(e.requests(gms.OpRefresh)).To(HaveLen(1))
			g.Consistently(e.clock.HasWaiters, 50*time.Millisecond).Should(BeFalse())
			g.Expect(e.chat(s).Ended).To(Equal(tc.chatEnded))
		})
	}
}

func TestChatEndIsNotAnError(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, tr := e.start()
	g.Expect(e.sim.AgentJoin(s.ChatID, gmssim.Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(e.sim.Close(s.ChatID)).To(Succeed())
	resp, err := e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.ChatEnded).To(BeTrue())
	events := tr.Accept(resp)
	g.Expect(events[len(events)-1].Type).To(Equal(gms.EventParticipantLeft))

	// Afterwards the chat is gone: statusCode 2, not retried.
	_, err = e.client.Refresh(ctx(t), s, tr.Position())
	ge := asGMSError(g, err)
	g.Expect(ge.Code()).To(Equal("status_2"))
	g.Expect(ge.Attempts).To(Equal(1))
}

func TestWrongSecureKeyEndsTheChatWithoutLeakingIt(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, _ := e.start()
	forged := gms.NewSession(s.ChatID, s.UserID, "forged-key-123", s.Alias())
	_, err := e.client.Send(ctx(t), forged, "x", "", 0)
	ge := asGMSError(g, err)
	g.Expect(ge.ChatEnded).To(BeTrue())
	g.Expect(ge.Errors[0].Code).To(Equal(8210))
	g.Expect(ge.Retryable()).To(BeFalse())
	for _, text := range []string{ge.Error(), fmt.Sprintf("%v", err), fmt.Sprint(forged), fmt.Sprint(s)} {
		g.Expect(text).NotTo(ContainSubstring("forged-key-123"))
		g.Expect(text).NotTo(ContainSubstring(s.SecureKey()))
	}
	g.Expect(e.chat(s).Ended).To(BeTrue())
}

func TestBasicAuth(t *testing.T) {
	var mu sync.Mutex
	username, password := "runner", "pa55-w0rd"
	reads := 0
	creds := func() (string, string, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return username, password, nil
	}
	setCreds := func(u, p string) {
		mu.Lock()
		defer mu.Unlock()
		username, password = u, p
	}
	e := newEnv(t, gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "runner", Password: "pa55-w0rd"}},
		func(o *gms.Options) { o.Auth = gms.BasicAuth(creds) })
	g := e.g

	// Accepted.
	s, tr := e.start()
	user, pass, ok := (&http.Request{Header: e.last().Header}).BasicAuth()
	g.Expect(ok).To(BeTrue())
	g.Expect(user).To(Equal("runner"))
	g.Expect(pass).To(Equal("pa55-w0rd"))

	// Refused: 401 is not retried, and the error holds no credential.
	setCreds("runner", "wr0ng-pa55")
	_, err := e.client.Refresh(ctx(t), s, tr.Position())
	ge := asGMSError(g, err)
	g.Expect(ge.HTTPStatus).To(Equal(http.StatusUnauthorized))
	g.Expect(ge.Code()).To(Equal("http_401"))
	g.Expect(ge.Retryable()).To(BeFalse())
	g.Expect(ge.Attempts).To(Equal(1))
	g.Expect(e.requests(gms.OpRefresh)).To(HaveLen(1))
	for _, secret := range []string{"wr0ng-pa55", "pa55-w0rd", s.SecureKey(), "Basic "} {
		g.Expect(ge.Error()).NotTo(ContainSubstring(secret))
	}

	// Rotated on both sides: read live on the next call.
	e.sim.SetBasicAuth(&gmssim.Credentials{Username: "runner2", Password: "n3w-pa55"})
	setCreds("runner2", "n3w-pa55")
	_, err = e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).NotTo(HaveOccurred())
	user, pass, _ = (&http.Request{Header: e.last().Header}).BasicAuth()
	g.Expect(user + ":" + pass).To(Equal("runner2:n3w-pa55"))
	mu.Lock()
	g.Expect(reads).To(Equal(3))
	mu.Unlock()
}

func TestNoCredentialsIsRefused(t *testing.T) {
	e := newEnv(t, gmssim.Options{BasicAuth: &gmssim.Credentials{Username: "u", Password: "p"}}, nil)
	g := e.g
	_, _, err := e.client.RequestChat(ctx(t), gms.ChatRequest{Nickname: "n"})
	ge := asGMSError(g, err)
	g.Expect(ge.Code()).To(Equal("http_401"))
	g.Expect(ge.Attempts).To(Equal(1))
}

func TestConfigureSwitchesTheSimulator(t *testing.T) {
	e := newEnv(t, gmssim.Options{}, nil)
	g := e.g
	s, tr := e.start()
	other := gmssim.New(gmssim.Options{ServiceName: "other-service", ContextPath: "/gms/"})
	srv := httptest.NewServer(other)
	t.Cleanup(srv.Close)

	settings := e.client.Settings()
	settings.ServiceURL = srv.URL
	settings.ServiceName = "other-service"
	settings.ContextPath = "/gms/"
	g.Expect(e.client.Configure(settings)).To(Succeed())
	_, err := e.client.Refresh(ctx(t), s, tr.Position())
	g.Expect(err).To(HaveOccurred(), "the chat lives on the first simulator")
	g.Expect(other.Requests()).To(HaveLen(1))
	g.Expect(other.Requests()[0].Path).To(Equal("/gms/other-service/" + s.ChatID + "/refresh"))
	s2, _, err := e.client.RequestChat(ctx(t), gms.ChatRequest{Nickname: "n"})
	g.Expect(err).NotTo(HaveOccurred())
	_, ok := other.Chat(s2.ChatID)
	g.Expect(ok).To(BeTrue())
	g.Expect(strings.Count(fmt.Sprint(e.sim.Requests()), "other-service")).To(BeZero())
}
