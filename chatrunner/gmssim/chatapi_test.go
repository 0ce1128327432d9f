package gmssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func TestRequestChatAnswersLikeGMS(t *testing.T) {
	start := time.Date(2025, 5, 28, 20, 31, 28, 0, time.UTC)
	c := newTC(t, Options{Clock: clocktesting.NewFakeClock(start)})
	g := c.g
	s, a := c.requestChat(url.Values{
		gms.ParamFirstName:                 {"First"},
		gms.ParamLastName:                  {"Last"},
		gms.ParamSubject:                   {"Subject to"},
		gms.ParamEmailAddress:              {"first@example.com"},
		gms.UserDataParam("Escalation"):    {"bot-42"},
		gms.UserDataParam(gms.TimeZoneKey): {"-120"},
	})
	g.Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(s.chatID).NotTo(BeEmpty())
	g.Expect(s.userID).NotTo(BeEmpty())
	g.Expect(s.secureKey).NotTo(BeEmpty())
	g.Expect(s.alias).To(Equal("117"))
	g.Expect(a.resp.ChatEnded).To(BeFalse())
	g.Expect(a.resp.NextPosition).To(Equal(ptr(2)))
	g.Expect(a.resp.Messages).To(Equal([]gms.Event{{
		From:    gms.Participant{Nickname: "First Last", ParticipantID: 1, Type: gms.ParticipantClient},
		Index:   1,
		Type:    gms.EventParticipantJoined,
		UTCTime: start.UnixMilli(),
	}}))
	g.Expect(string(a.body)).NotTo(ContainSubstring("chatEnded"))

	chat, ok := c.sim.Chat(s.chatID)
	g.Expect(ok).To(BeTrue())
	g.Expect(chat.ID).To(Equal(s.chatID))
	g.Expect(chat.UserID).To(Equal(s.userID))
	g.Expect(chat.Alias).To(Equal(s.alias))
	g.Expect(chat.Nickname).To(Equal("First Last"))
	g.Expect(chat.FirstName).To(Equal("First"))
	g.Expect(chat.LastName).To(Equal("Last"))
	g.Expect(chat.Subject).To(Equal("Subject to"))
	g.Expect(chat.EmailAddress).To(Equal("first@example.com"))
	g.Expect(chat.UserData).To(Equal(map[string]string{"Escalation": "bot-42", gms.TimeZoneKey: "-120"}))
	g.Expect(chat.Transcript).To(Equal(a.resp.Messages))
	g.Expect(chat.LastRequest).To(Equal(start))
	snapshot, err := json.Marshal(chat)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(snapshot)).NotTo(ContainSubstring(s.secureKey))

	// Another chat gets other ids, and Chats keeps creation order.
	s2, _ := c.requestChat(nil)
	g.Expect(s2.chatID).NotTo(Equal(s.chatID))
	g.Expect(s2.secureKey).NotTo(Equal(s.secureKey))
	chats := c.sim.Chats()
	g.Expect(chats).To(HaveLen(2))
	g.Expect(chats[0].ID).To(Equal(s.chatID))
	g.Expect(chats[1].ID).To(Equal(s2.chatID))
	g.Expect(chats[1].Nickname).To(Equal("Zoe"))
}

func TestRequestChatWithoutNextPosition(t *testing.T) {
	c := newTC(t, Options{OmitNextPositionOnRequest: true})
	_, a := c.requestChat(nil)
	c.g.Expect(a.resp.NextPosition).To(BeNil())
	c.g.Expect(string(a.body)).NotTo(ContainSubstring("nextPosition"))
	c.g.Expect(a.resp.Messages).To(HaveLen(1))
}

func TestRequestChatAcceptsMultipart(t *testing.T) {
	c := newTC(t, Options{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	c.g.Expect(mw.WriteField(gms.ParamNickname, "Multi Part")).To(Succeed())
	c.g.Expect(mw.WriteField(gms.UserDataParam("k"), "v & w")).To(Succeed())
	c.g.Expect(mw.Close()).To(Succeed())
	req, err := http.NewRequest(http.MethodPost, c.base+testService, &body)
	c.g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	a := c.do(req)
	c.g.Expect(a.status).To(Equal(http.StatusOK), string(a.body))
	c.g.Expect(a.resp.Messages[0].From.Nickname).To(Equal("Multi Part"))
	chat, _ := c.sim.Chat(a.resp.ChatID)
	c.g.Expect(chat.UserData).To(Equal(map[string]string{"k": "v & w"}))
}

func TestRequestChatRequiresANickname(t *testing.T) {
	c := newTC(t, Options{})
	for _, tt := range []struct {
		form   url.Values
		advice string
	}{
		{url.Values{}, "nickname"},
		{url.Values{gms.ParamFirstName: {"First"}}, "lastName"},
		{url.Values{gms.ParamLastName: {"Last"}}, "firstName"},
		{url.Values{gms.ParamSubject: {"only"}}, "nickname"},
	} {
		a := c.post(testService, tt.form)
		c.g.Expect(a.status).To(Equal(http.StatusBadRequest), tt.form.Encode())
		c.g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
		c.g.Expect(a.resp.Errors).To(HaveLen(1))
		c.g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring(tt.advice))
	}
	c.g.Expect(c.sim.Chats()).To(BeEmpty())
}

func TestRefreshReturnsTheTranscriptFromThePosition(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(c.sim.AgentMessage(s.chatID, "Hello")).To(Succeed())

	for _, tt := range []struct {
		pos     int
		indexes []int
		next    int
	}{
		{1, []int{1, 2, 3}, 4},
		{2, []int{2, 3}, 4},
		{3, []int{3}, 4},
		{4, []int{}, 4},
		{10, []int{}, 10},
		{0, []int{}, 4},
	} {
		a := c.refresh(s, tt.pos)
		g.Expect(a.status).To(Equal(http.StatusOK))
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
		g.Expect(indexes(a.resp.Messages)).To(Equal(tt.indexes), "position %d", tt.pos)
		g.Expect(a.resp.NextPosition).To(Equal(ptr(tt.next)), "position %d", tt.pos)
		g.Expect(a.resp.ChatID).To(Equal(s.chatID))
		g.Expect(a.resp.UserID).To(Equal(s.userID))
		g.Expect(a.resp.Alias).To(Equal(s.alias))
		g.Expect(a.resp.SecureKey).To(BeEmpty())
		g.Expect(a.resp.ChatEnded).To(BeFalse())
	}
	// Without transcriptPosition: no events, nextPosition still given.
	a := c.op(s, "refresh", nil)
	g.Expect(a.resp.Messages).To(BeEmpty())
	g.Expect(a.resp.NextPosition).To(Equal(ptr(4)))

	a = c.refresh(s, 2)
	g.Expect(a.resp.Messages[0].From).To(Equal(gms.Participant{Nickname: "Ann", ParticipantID: 2, Type: gms.ParticipantAgent}))
	g.Expect(a.resp.Messages[1].Text).To(Equal("Hello"))

	for _, bad := range []string{"-1", "abc", "1.5"} {
		a := c.op(s, "refresh", url.Values{gms.ParamTranscriptPosition: {bad}})
		g.Expect(a.status).To(Equal(http.StatusBadRequest), bad)
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
		g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring(gms.ParamTranscriptPosition))
	}
}

func TestSendAppendsAndReturnsTheDelta(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())

	a := c.op(s, "send", url.Values{gms.ParamMessage: {"Hi"}, gms.ParamMessageType: {"text"}, gms.ParamTranscriptPosition: {"2"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(indexes(a.resp.Messages)).To(Equal([]int{2, 3}))
	g.Expect(a.resp.Messages[1]).To(And(
		HaveField("Type", gms.EventMessage),
		HaveField("Text", "Hi"),
		HaveField("MessageType", "text"),
		HaveField("From", gms.Participant{Nickname: "Zoe", ParticipantID: 1, Type: gms.ParticipantClient}),
	))
	g.Expect(a.resp.NextPosition).To(Equal(ptr(4)))

	a = c.op(s, "send", url.Values{gms.ParamMessage: {"again"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.Messages).To(BeEmpty())

	a = c.op(s, "send", nil)
	g.Expect(a.status).To(Equal(http.StatusBadRequest))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring("message"))

	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(types(chat.Transcript)).To(Equal([]string{gms.EventParticipantJoined, gms.EventParticipantJoined, gms.EventMessage, gms.EventMessage}))
}

func TestSpecialCharactersSurviveARoundTrip(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	text := "a&b=c+d %20 100% ünïcødé 🙂 \"q\" <tag> \\ /\nline 2\r\nline 3\ttab"
	s, _ := c.requestChat(url.Values{gms.ParamNickname: {"Zoë & Co+"}, gms.UserDataParam("a&b"): {"c+d%"}})
	a := c.op(s, "send", url.Values{gms.ParamMessage: {text}, gms.ParamTranscriptPosition: {"2"}})
	g.Expect(a.resp.Messages).To(HaveLen(1))
	g.Expect(a.resp.Messages[0].Text).To(Equal(text))
	g.Expect(a.resp.Messages[0].From.Nickname).To(Equal("Zoë & Co+"))
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.UserData).To(Equal(map[string]string{"a&b": "c+d%"}))

	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(c.sim.AgentMessage(s.chatID, text)).To(Succeed())
	a = c.refresh(s, 4)
	g.Expect(a.resp.Messages).To(HaveLen(1))
	g.Expect(a.resp.Messages[0].Text).To(Equal(text))
}

func TestClientOperations(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(url.Values{gms.ParamNickname: {"Zoe"}, gms.UserDataParam("a"): {"1"}})
	ok := func(a answer) {
		t.Helper()
		g.Expect(a.status).To(Equal(http.StatusOK), string(a.body))
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK), string(a.body))
		g.Expect(a.resp.Alias).To(Equal(s.alias))
		g.Expect(a.resp.Messages).To(BeEmpty())
	}
	ok(c.op(s, "startTyping", url.Values{gms.ParamMessage: {"draft"}}))
	ok(c.op(s, "stopTyping", nil))
	ok(c.op(s, "pushUrl", url.Values{gms.ParamPushURL: {"https://example.com/?a=1&b=2"}}))
	ok(c.op(s, "customNotice", url.Values{gms.ParamMessage: {"custom"}}))
	ok(c.op(s, "updateNickname", url.Values{gms.ParamNickname: {"Zoey"}}))
	ok(c.op(s, "updateData", url.Values{gms.UserDataParam("b"): {"2"}, gms.UserDataParam("a"): {"one"}}))
	ok(c.op(s, "readReceipt", url.Values{gms.ParamTranscriptPosition: {"3"}}))

	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Transcript[1:]).To(HaveExactElements(
		And(HaveField("Type", gms.EventTypingStarted), HaveField("Text", "draft"), HaveField("Index", 2)),
		And(HaveField("Type", gms.EventTypingStopped), HaveField("Text", "")),
		And(HaveField("Type", gms.EventPushURL), HaveField("Text", "https://example.com/?a=1&b=2")),
		And(HaveField("Type", gms.EventCustomNotice), HaveField("Text", "custom")),
		And(HaveField("Type", gms.EventNicknameUpdated), HaveField("Text", "Zoey"), HaveField("From.Nickname", "Zoey")),
	))
	g.Expect(chat.Nickname).To(Equal("Zoey"))
	g.Expect(chat.UserData).To(Equal(map[string]string{"a": "one", "b": "2"}))

	// Required parameters.
	for path, param := range map[string]string{"pushUrl": gms.ParamPushURL, "updateNickname": gms.ParamNickname} {
		a := c.op(s, path, nil)
		g.Expect(a.status).To(Equal(http.StatusBadRequest), path)
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable), path)
		g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring(param), path)
	}

	// File limits answer a Notice in messages (files_test.go has the rest); the other file
	// operations refuse a request without a file (statusCode 2) and leave the chat going.
	a := c.op(s, "file/limits", nil)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.Messages).To(HaveLen(1))
	g.Expect(a.resp.Messages[0].UserData).To(HaveKeyWithValue("upload-max-files", "10"))
	for _, path := range []string{"file", "file/f1/download", "file/f1/delete"} {
		a := c.op(s, path, nil)
		g.Expect(a.status).To(Equal(http.StatusOK), path)
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable), path)
		g.Expect(a.resp.ChatEnded).To(BeFalse(), path)
	}
	chat, _ = c.sim.Chat(s.chatID)
	g.Expect(chat.Transcript).To(HaveLen(6))
	g.Expect(chat.Ended).To(BeFalse())

	// Disconnect ends the chat.
	a = c.op(s, "disconnect", nil)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	chat, _ = c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeTrue())
	g.Expect(chat.Transcript[len(chat.Transcript)-1]).To(And(
		HaveField("Type", gms.EventParticipantLeft),
		HaveField("From.Type", gms.ParticipantClient),
	))
	a = c.refresh(s, 7)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeLoggedOut))
}

func TestSessionTripleChecks(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	transcriptLen := func() int {
		chat, _ := c.sim.Chat(s.chatID)
		return len(chat.Transcript)
	}

	// Unknown chat.
	unknown := s
	unknown.chatID = "NOSUCHCHAT"
	a := c.refresh(unknown, 1)
	g.Expect(a.status).To(Equal(http.StatusOK))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeNoSuchUser))

	// Stale alias: recoverable, no alias in the answer, no side effect.
	stale := s
	stale.alias = "999"
	a = c.op(stale, "send", url.Values{gms.ParamMessage: {"lost"}})
	g.Expect(a.status).To(Equal(http.StatusOK))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusRecoverable))
	g.Expect(a.resp.Alias).To(BeEmpty())
	g.Expect(a.resp.Errors).To(HaveLen(1))
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeStaleAlias))
	g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring("is not the current Chat Server"))
	g.Expect(transcriptLen()).To(Equal(1))

	// Wrong user id: unrecoverable, but the chat goes on.
	wrongUser := s
	wrongUser.userID = "SOMEONEELSE"
	a = c.op(wrongUser, "send", url.Values{gms.ParamMessage: {"lost"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeFalse())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeNoSuchUser))
	g.Expect(transcriptLen()).To(Equal(1))
	g.Expect(c.refresh(s, 1).resp.StatusCode).To(Equal(gms.StatusOK))

	// Missing parts of the triple.
	for _, p := range []string{gms.ParamUserID, gms.ParamSecureKey, gms.ParamAlias} {
		form := url.Values{gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias}}
		form.Del(p)
		a := c.post(testService+"/"+s.chatID+"/refresh", form)
		g.Expect(a.status).To(Equal(http.StatusBadRequest), p)
		g.Expect(a.resp.Errors[0].Advice).To(ContainSubstring(p))
	}

	// Wrong secure key: the client is removed at once.
	wrongKey := s
	wrongKey.secureKey = "0123456789abcdef"
	a = c.op(wrongKey, "refresh", url.Values{gms.ParamTranscriptPosition: {"1"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeBadSecureKey))
	g.Expect(a.resp.Messages).To(BeEmpty())
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeTrue())
	g.Expect(types(chat.Transcript)).To(Equal([]string{gms.EventParticipantJoined, gms.EventParticipantLeft}))
	a = c.refresh(s, 2)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeLoggedOut))
}

func TestEndedChatDeliversTheEndOnce(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(c.refresh(s, 2).resp.NextPosition).To(Equal(ptr(3)))
	g.Expect(c.sim.AgentMessage(s.chatID, "Bye")).To(Succeed())
	g.Expect(c.sim.Close(s.chatID)).To(Succeed())

	// A Send on the ended chat fails, but does not take the end from the next refresh.
	a := c.op(s, "send", url.Values{gms.ParamMessage: {"wait"}})
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors[0].Code).To(Equal(codeLoggedOut))

	a = c.refresh(s, 3)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Messages).To(HaveExactElements(
		And(HaveField("Type", gms.EventMessage), HaveField("Text", "Bye"), HaveField("Index", 3)),
		And(HaveField("Type", gms.EventParticipantLeft), HaveField("From.Nickname", "Ann"), HaveField("Index", 4)),
	))
	g.Expect(a.resp.NextPosition).To(Equal(ptr(5)))

	for _, path := range []string{"refresh", "send", "startTyping", "disconnect"} {
		a = c.op(s, path, url.Values{gms.ParamMessage: {"x"}, gms.ParamTranscriptPosition: {"5"}})
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable), path)
		g.Expect(a.resp.ChatEnded).To(BeTrue(), path)
		g.Expect(a.resp.Errors[0].Code).To(Equal(codeLoggedOut), path)
	}
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Transcript).To(HaveLen(4))
	g.Expect(chat.Agents).To(BeEmpty())
}

func TestRoutingAndMethods(t *testing.T) {
	c := newTC(t, Options{ServiceName: testService, ContextPath: "gms/chat"})
	g := c.g
	g.Expect(c.base).To(HaveSuffix("/gms/chat/"))
	s, _ := c.requestChat(nil)

	req, err := http.NewRequest(http.MethodGet, c.base+testService+"/"+s.chatID+"/refresh", nil)
	g.Expect(err).NotTo(HaveOccurred())
	a := c.do(req)
	g.Expect(a.status).To(Equal(http.StatusMethodNotAllowed))
	g.Expect(a.header.Get("Allow")).To(Equal(http.MethodPost))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))

	for _, u := range []string{
		c.base + testService + "/" + s.chatID + "/bogus",
		c.base + "other-service",
		c.base + "other-service/" + s.chatID + "/refresh",
		c.srv.URL + "/genesys/2/chat/" + testService,
		c.base,
	} {
		a := c.postRaw(u, url.Values{gms.ParamNickname: {"x"}})
		g.Expect(a.status).To(Equal(http.StatusNotFound), u)
		g.Expect(a.header.Get("Content-Type")).To(Equal("application/json"), u)
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable), u)
		g.Expect(a.resp.Errors).NotTo(BeEmpty(), u)
	}
	g.Expect(c.sim.Chats()).To(HaveLen(1))
}

func TestEndpointOverrides(t *testing.T) {
	c := newTC(t, Options{Overrides: map[gms.Operation]string{
		gms.OpStartTyping: "typingStart",
		gms.OpFileLimits:  "limits2",
	}})
	g := c.g
	s, _ := c.requestChat(nil)
	a := c.op(s, "typingStart", nil)
	g.Expect(a.status).To(Equal(http.StatusOK))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(c.op(s, "startTyping", nil).status).To(Equal(http.StatusNotFound))
	g.Expect(c.op(s, "file/limits", nil).status).To(Equal(http.StatusNotFound))
	g.Expect(c.op(s, "file/limits2", nil).resp.StatusCode).To(Equal(gms.StatusOK), "the last segment is renamed")
	g.Expect(c.op(s, "stopTyping", nil).status).To(Equal(http.StatusOK))
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(types(chat.Transcript)).To(Equal([]string{gms.EventParticipantJoined, gms.EventTypingStarted, gms.EventTypingStopped}))
	reqs := c.sim.Requests()
	g.Expect(reqs[1].Op).To(Equal(gms.OpStartTyping))
	g.Expect(reqs[2].Op).To(BeEmpty())
}

func TestRequestsAreRecorded(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	c := newTC(t, Options{Clock: clk})
	g := c.g
	s, _ := c.requestChat(nil)
	clk.Step(time.Second)
	c.refresh(s, 2)
	reqs := c.sim.Requests()
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[0]).To(And(
		HaveField("Op", gms.OpRequestChat),
		HaveField("ChatID", ""),
		HaveField("Method", http.MethodPost),
		HaveField("Path", "/genesys/2/chat/"+testService),
		HaveField("Time", start),
		HaveField("Fault", FaultKind("")),
	))
	g.Expect(reqs[0].Form.Get(gms.ParamNickname)).To(Equal("Zoe"))
	g.Expect(reqs[0].Header.Get("Content-Type")).To(Equal("application/x-www-form-urlencoded"))
	g.Expect(reqs[1]).To(And(
		HaveField("Op", gms.OpRefresh),
		HaveField("ChatID", s.chatID),
		HaveField("Time", start.Add(time.Second)),
	))
	g.Expect(reqs[1].Form.Get(gms.ParamSecureKey)).To(Equal(s.secureKey))

	// Copies: changing them changes nothing.
	reqs[1].Form.Set(gms.ParamSecureKey, "changed")
	g.Expect(c.sim.Requests()[1].Form.Get(gms.ParamSecureKey)).To(Equal(s.secureKey))

	c.sim.ResetRequests()
	g.Expect(c.sim.Requests()).To(BeEmpty())
}

func TestMaxRecordedRequests(t *testing.T) {
	c := newTC(t, Options{MaxRecordedRequests: 3})
	s, _ := c.requestChat(nil)
	for i := 2; i <= 10; i++ {
		c.refresh(s, i)
	}
	reqs := c.sim.Requests()
	c.g.Expect(len(reqs)).To(And(BeNumerically(">=", 3), BeNumerically("<", 6)))
	c.g.Expect(reqs[len(reqs)-1].Form.Get(gms.ParamTranscriptPosition)).To(Equal("10"))
}

func TestCredentialsNeverPrintThePassword(t *testing.T) {
	g := NewWithT(t)
	cr := Credentials{Username: "user", Password: "s3cr3t-pw"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		g.Expect(strings.Contains(fmt.Sprintf(f, cr), "s3cr3t-pw")).To(BeFalse(), f)
		g.Expect(strings.Contains(fmt.Sprintf(f, &cr), "s3cr3t-pw")).To(BeFalse(), f)
	}
}
