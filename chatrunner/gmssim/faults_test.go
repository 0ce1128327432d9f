package gmssim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

func (c *tc) transcriptLen(id string) int {
	chat, _ := c.sim.Chat(id)
	return len(chat.Transcript)
}

func TestFaultHTTPStatusCountsTimes(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: http.StatusServiceUnavailable, Times: 2})
	for range 2 {
		a := c.refresh(s, 2)
		g.Expect(a.status).To(Equal(http.StatusServiceUnavailable))
		g.Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusRecoverable))
		g.Expect(a.resp.Errors).To(Equal([]gms.APIError{{Code: 503, Advice: "Service Unavailable"}}))
	}
	g.Expect(c.refresh(s, 2).status).To(Equal(http.StatusOK))
	faults := []FaultKind{}
	for _, r := range c.sim.Requests()[1:] {
		faults = append(faults, r.Fault)
	}
	g.Expect(faults).To(Equal([]FaultKind{FaultHTTPStatus, FaultHTTPStatus, ""}))

	// 4xx other than 408 and 429 are unrecoverable; custom errors go through.
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: http.StatusBadRequest, Times: 1,
		Errors: []gms.APIError{{Code: 7, Advice: "custom"}}})
	a := c.refresh(s, 2)
	g.Expect(a.status).To(Equal(http.StatusBadRequest))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.Errors).To(Equal([]gms.APIError{{Code: 7, Advice: "custom"}}))
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: http.StatusTooManyRequests, Times: 1})
	a = c.refresh(s, 2)
	g.Expect(a.status).To(Equal(http.StatusTooManyRequests))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusRecoverable))

	// An HTTP error on send has no side effect.
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, Op: gms.OpSend, Times: 1})
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(http.StatusServiceUnavailable))
	g.Expect(c.transcriptLen(s.chatID)).To(Equal(1))
}

func TestFaultsMatchPerOperationAndChatInOrder(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s1, _ := c.requestChat(nil)
	s2, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: 500, Op: gms.OpSend})
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: 502, ChatID: s2.chatID})
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: 504, ChatID: s2.chatID})

	g.Expect(c.refresh(s1, 2).status).To(Equal(http.StatusOK))
	g.Expect(c.op(s1, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(500))
	g.Expect(c.op(s2, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(500))
	g.Expect(c.refresh(s2, 2).status).To(Equal(502)) // the first match applies
	g.Expect(c.refresh(s2, 2).status).To(Equal(502)) // Times 0: until cleared
	g.Expect(c.post(testService, url.Values{gms.ParamNickname: {"x"}}).status).To(Equal(http.StatusOK))

	c.sim.ClearFaults()
	g.Expect(c.refresh(s2, 2).status).To(Equal(http.StatusOK))
	g.Expect(c.op(s1, "send", url.Values{gms.ParamMessage: {"x"}}).status).To(Equal(http.StatusOK))

	// Request Chat can be faulted too.
	c.sim.Inject(Fault{Kind: FaultHTTPStatus, HTTPStatus: 503, Op: gms.OpRequestChat, Times: 1})
	g.Expect(c.post(testService, url.Values{gms.ParamNickname: {"x"}}).status).To(Equal(503))
	g.Expect(c.sim.Chats()).To(HaveLen(3))
}

func TestFaultDelayIsHonouredWithoutBlockingOthers(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s1, _ := c.requestChat(nil)
	s2, _ := c.requestChat(nil)
	const delay = 300 * time.Millisecond
	c.sim.Inject(Fault{Kind: FaultDelay, Delay: delay, ChatID: s1.chatID, Times: 1})

	done := make(chan time.Duration, 1)
	go func() {
		begin := time.Now()
		req, _ := http.NewRequest(http.MethodPost, c.base+testService+"/"+s1.chatID+"/refresh", strings.NewReader(url.Values{
			gms.ParamUserID: {s1.userID}, gms.ParamSecureKey: {s1.secureKey}, gms.ParamAlias: {s1.alias}, gms.ParamTranscriptPosition: {"1"},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := c.srv.Client().Do(req)
		if err == nil {
			var resp gms.Response
			_ = json.NewDecoder(res.Body).Decode(&resp)
			_ = res.Body.Close()
			if resp.StatusCode == gms.StatusOK && len(resp.Messages) == 1 {
				done <- time.Since(begin)
				return
			}
		}
		done <- -1
	}()
	// The delayed request is under way (recorded) while another chat is served at once.
	g.Eventually(func() int { return len(c.sim.Requests()) }).Should(Equal(3))
	begin := time.Now()
	g.Expect(c.refresh(s2, 2).resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(time.Since(begin)).To(BeNumerically("<", delay))
	var elapsed time.Duration
	g.Eventually(done).WithTimeout(5 * time.Second).Should(Receive(&elapsed))
	g.Expect(elapsed).To(BeNumerically(">=", delay))

	// The delay ends with the request's context.
	c.sim.Inject(Fault{Kind: FaultDelay, Delay: time.Hour, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+testService+"/"+s1.chatID+"/refresh", nil)
	_, err := c.srv.Client().Do(req)
	g.Expect(err).To(HaveOccurred())
	closed := make(chan struct{})
	go func() { c.srv.Close(); close(closed) }() // waits for the handler
	g.Eventually(closed).WithTimeout(5 * time.Second).Should(BeClosed())
}

func TestFaultResetClosesTheConnection(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultReset, Op: gms.OpSend, Times: 1})
	req, _ := http.NewRequest(http.MethodPost, c.base+testService+"/"+s.chatID+"/send", strings.NewReader(url.Values{
		gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias}, gms.ParamMessage: {"x"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := c.srv.Client().Do(req)
	g.Expect(err).To(HaveOccurred())
	g.Expect(c.transcriptLen(s.chatID)).To(Equal(1))
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).resp.StatusCode).To(Equal(gms.StatusOK))

	// Through a plain handler call (no hijacking) the handler aborts.
	c.sim.Inject(Fault{Kind: FaultReset, Times: 1})
	rec := httptest.NewRecorder()
	g.Expect(func() {
		c.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/genesys/2/chat/"+testService, strings.NewReader("nickname=x")))
	}).To(PanicWith(http.ErrAbortHandler))
}

func TestFaultStatus1HasNoSideEffect(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultStatus1, Op: gms.OpSend, Times: 1})
	a := c.op(s, "send", url.Values{gms.ParamMessage: {"x"}})
	g.Expect(a.status).To(Equal(http.StatusOK))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusRecoverable))
	g.Expect(a.resp.Errors).NotTo(BeEmpty())
	g.Expect(c.transcriptLen(s.chatID)).To(Equal(1))
}

func TestFaultStatus2(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultStatus2, Times: 1})
	a := c.op(s, "send", url.Values{gms.ParamMessage: {"x"}})
	g.Expect(a.status).To(Equal(http.StatusOK))
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeFalse())
	g.Expect(a.resp.Errors).To(Equal([]gms.APIError{{Code: 249, Advice: "Media server was not able to execute request"}}))
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeFalse())
	g.Expect(chat.Transcript).To(HaveLen(1))

	c.sim.Inject(Fault{Kind: FaultStatus2, ChatEnded: true, Errors: []gms.APIError{{Code: 8209, Advice: "gone"}}, Times: 1})
	a = c.refresh(s, 2)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
	g.Expect(a.resp.Errors).To(Equal([]gms.APIError{{Code: 8209, Advice: "gone"}}))
	chat, _ = c.sim.Chat(s.chatID)
	g.Expect(chat.Ended).To(BeTrue())
	a = c.refresh(s, 2)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusUnrecoverable))
	g.Expect(a.resp.ChatEnded).To(BeTrue())
}

func TestFaultMalformedJSONHasNoSideEffect(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultMalformedJSON, Op: gms.OpSend, Times: 1})
	req, _ := http.NewRequest(http.MethodPost, c.base+testService+"/"+s.chatID+"/send", strings.NewReader(url.Values{
		gms.ParamUserID: {s.userID}, gms.ParamSecureKey: {s.secureKey}, gms.ParamAlias: {s.alias}, gms.ParamMessage: {"x"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.srv.Client().Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	g.Expect(res.StatusCode).To(Equal(http.StatusOK))
	var resp gms.Response
	g.Expect(json.NewDecoder(res.Body).Decode(&resp)).NotTo(Succeed())
	g.Expect(c.transcriptLen(s.chatID)).To(Equal(1))
}

func TestFaultAliasChange(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	c.sim.Inject(Fault{Kind: FaultAliasChange, Op: gms.OpRefresh, Times: 1})
	a := c.refresh(s, 2)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.Alias).NotTo(BeEmpty())
	g.Expect(a.resp.Alias).NotTo(Equal(s.alias))
	newAlias := a.resp.Alias
	chat, _ := c.sim.Chat(s.chatID)
	g.Expect(chat.Alias).To(Equal(newAlias))

	// A client that does not adopt it keeps failing, without side effects.
	for range 3 {
		a = c.op(s, "send", url.Values{gms.ParamMessage: {"x"}})
		g.Expect(a.resp.StatusCode).To(Equal(gms.StatusRecoverable))
		g.Expect(a.resp.Alias).To(BeEmpty())
		g.Expect(a.resp.Errors[0].Code).To(Equal(codeStaleAlias))
	}
	g.Expect(c.transcriptLen(s.chatID)).To(Equal(1))
	s.alias = newAlias
	g.Expect(c.op(s, "send", url.Values{gms.ParamMessage: {"x"}}).resp.StatusCode).To(Equal(gms.StatusOK))

	// To a given alias, also on Request Chat.
	c.sim.Inject(Fault{Kind: FaultAliasChange, Alias: "900", Times: 2})
	g.Expect(c.refresh(s, 2).resp.Alias).To(Equal("900"))
	s2, _ := c.requestChat(nil)
	g.Expect(s2.alias).To(Equal("900"))
}

func TestFaultOmitNextPosition(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	c.sim.Inject(Fault{Kind: FaultOmitNextPosition, Times: 2})
	a := c.refresh(s, 2)
	g.Expect(a.resp.StatusCode).To(Equal(gms.StatusOK))
	g.Expect(a.resp.Messages).To(HaveLen(1))
	g.Expect(a.resp.NextPosition).To(BeNil())
	g.Expect(string(a.body)).NotTo(ContainSubstring("nextPosition"))
	_, a = c.requestChat(nil)
	g.Expect(a.resp.NextPosition).To(BeNil())
	g.Expect(c.refresh(s, 2).resp.NextPosition).To(Equal(ptr(3)))
}

func TestFaultDuplicateLast(t *testing.T) {
	c := newTC(t, Options{})
	g := c.g
	s, _ := c.requestChat(nil)
	g.Expect(c.sim.AgentJoin(s.chatID, Agent{Nickname: "Ann"})).To(Succeed())
	g.Expect(c.sim.AgentMessage(s.chatID, "one")).To(Succeed())
	g.Expect(c.refresh(s, 2).resp.NextPosition).To(Equal(ptr(4)))
	g.Expect(c.sim.AgentMessage(s.chatID, "two")).To(Succeed())

	c.sim.Inject(Fault{Kind: FaultDuplicateLast, Times: 2})
	a := c.refresh(s, 4)
	g.Expect(indexes(a.resp.Messages)).To(Equal([]int{3, 4}))
	g.Expect(a.resp.Messages[0].Text).To(Equal("one"))
	g.Expect(a.resp.NextPosition).To(Equal(ptr(5)))
	// With nothing new, the last one delivered alone.
	a = c.refresh(s, 5)
	g.Expect(indexes(a.resp.Messages)).To(Equal([]int{4}))
	g.Expect(a.resp.NextPosition).To(Equal(ptr(5)))
	g.Expect(indexes(c.refresh(s, 5).resp.Messages)).To(BeEmpty())
}

func TestFaultJSON(t *testing.T) {
	g := NewWithT(t)
	f := Fault{Kind: FaultDelay, Op: gms.OpRefresh, ChatID: "C1", Times: 2, Delay: 1500 * time.Millisecond,
		Errors: []gms.APIError{{Code: 1, Advice: "a"}}, ChatEnded: true, Alias: "5", HTTPStatus: 503}
	b, err := json.Marshal(f)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(MatchJSON(`{"kind":"delay","op":"refresh","chatId":"C1","times":2,"httpStatus":503,
		"delay":"1.5s","errors":[{"code":1,"advice":"a"}],"chatEnded":true,"alias":"5"}`))
	var back Fault
	g.Expect(json.Unmarshal(b, &back)).To(Succeed())
	g.Expect(back).To(Equal(f))
	g.Expect(json.Unmarshal([]byte(`{"kind":"delay","delay":"soon"}`), &back)).NotTo(Succeed())
	var reset Fault
	g.Expect(json.Unmarshal([]byte(`{"kind":"reset"}`), &reset)).To(Succeed())
	g.Expect(reset).To(Equal(Fault{Kind: FaultReset}))
}
