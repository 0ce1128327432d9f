package gmssim

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Chat Server error codes the simulator answers with.
const (
	codeStaleAlias   = 102
	codeBadRequest   = 400
	codeNotSupported = 501
	codeNoSuchUser   = 8201
	codeLoggedOut    = 8209
	codeBadSecureKey = 8210
)

// effects are the faults that shape a normal answer.
type effects struct {
	aliasChange   bool
	alias         string
	omitNext      bool
	duplicateLast bool
}

func effectsOf(f Fault) effects {
	switch f.Kind {
	case FaultAliasChange:
		return effects{aliasChange: true, alias: f.Alias}
	case FaultOmitNextPosition:
		return effects{omitNext: true}
	case FaultDuplicateLast:
		return effects{duplicateLast: true}
	}
	return effects{}
}

// serveChatAPI serves a request under the context path.
func (s *Simulator) serveChatAPI(w http.ResponseWriter, r *http.Request) {
	op, chatID, fileID, routed := s.route(r.URL.Path)
	bodyLimit := int64(maxBody)
	if op == gms.OpFileUpload {
		bodyLimit = max(bodyLimit, s.maxUploadBody())
	}
	formErr := parseForm(w, r, bodyLimit)
	if r.MultipartForm != nil {
		defer func() { _ = r.MultipartForm.RemoveAll() }()
	}
	rec := Request{
		Op: op, ChatID: chatID, Method: r.Method, Path: r.URL.Path,
		Form: cloneValues(r.Form), Header: r.Header.Clone(), Time: s.clock.Now(),
	}
	refuse := func(status int, advice string) {
		writeJSON(w, status, errorResponse(gms.StatusUnrecoverable, status, advice))
	}
	var refused func()
	switch {
	case !routed:
		refused = func() { refuse(http.StatusNotFound, "no such operation") }
	case r.Method != http.MethodPost:
		refused = func() {
			w.Header().Set("Allow", http.MethodPost)
			refuse(http.StatusMethodNotAllowed, "use POST")
		}
	case !s.authorized(r):
		refused = func() {
			w.Header().Set("WWW-Authenticate", `Basic realm="GMS", charset="UTF-8"`)
			refuse(http.StatusUnauthorized, "authentication required")
		}
	case formErr != nil:
		refused = func() { refuse(http.StatusBadRequest, errBadForm.Error()) }
	}

	var fault Fault
	var faulted bool
	s.mu.Lock()
	if refused == nil {
		if fault, faulted = s.matchFault(op, chatID); faulted {
			rec.Fault = fault.Kind
		}
	}
	s.record(rec)
	s.mu.Unlock()
	if refused != nil {
		refused()
		return
	}

	if faulted && fault.Kind == FaultLostAnswer {
		answer := &discardWriter{h: http.Header{}}
		if op == gms.OpRequestChat {
			s.requestChat(answer, r.Form, effects{})
		} else {
			var u upload
			if op == gms.OpFileUpload {
				u = s.readUpload(r)
			}
			s.session(answer, op, chatID, fileID, r.Form, u, effects{})
		}
		resetConnection(w)
		return
	}
	if faulted {
		if fault.Kind == FaultDelay {
			if !sleep(r.Context(), fault.Delay) {
				return
			}
		} else if s.answerFault(w, fault, chatID, r.Form.Get(gms.ParamUserID)) {
			return
		}
	}
	fx := effectsOf(fault)
	if op == gms.OpRequestChat {
		s.requestChat(w, r.Form, fx)
		return
	}
	var u upload
	if op == gms.OpFileUpload {
		u = s.readUpload(r)
	}
	s.session(w, op, chatID, fileID, r.Form, u, fx)
}

// badRequest answers HTTP 400 with statusCode 2 and advice.
func badRequest(w http.ResponseWriter, chatID, advice string) {
	resp := errorResponse(gms.StatusUnrecoverable, codeBadRequest, advice)
	resp.ChatID = chatID
	writeJSON(w, http.StatusBadRequest, resp)
}

// requestChat creates a chat.
func (s *Simulator) requestChat(w http.ResponseWriter, form url.Values, fx effects) {
	nickname := form.Get(gms.ParamNickname)
	first, last := form.Get(gms.ParamFirstName), form.Get(gms.ParamLastName)
	if nickname == "" {
		switch {
		case first == "" && last == "":
			badRequest(w, "", "missing required parameter nickname (or firstName and lastName)")
			return
		case first == "":
			badRequest(w, "", "missing required parameter firstName")
			return
		case last == "":
			badRequest(w, "", "missing required parameter lastName")
			return
		}
		nickname = first + " " + last
	}
	now := s.clock.Now()
	s.mu.Lock()
	c := &chat{
		id:          s.newChatID(),
		userID:      strings.ToUpper(randomHex(8)),
		secureKey:   newSecureKey(),
		alias:       strconv.Itoa(initialAlias),
		nickname:    nickname,
		firstName:   first,
		lastName:    last,
		subject:     form.Get(gms.ParamSubject),
		email:       form.Get(gms.ParamEmailAddress),
		userData:    userData(form),
		nextPID:     clientParticipantID + 1,
		lastRequest: now,
	}
	if fx.aliasChange {
		c.alias = fx.alias
		if c.alias == "" {
			c.alias = s.newAlias()
		}
	}
	ev := c.add(now, gms.Event{From: c.client(), Type: gms.EventParticipantJoined})
	s.chats[c.id] = c
	s.order = append(s.order, c)
	resp := gms.Response{
		StatusCode: gms.StatusOK,
		ChatID:     c.id,
		UserID:     c.userID,
		SecureKey:  c.secureKey,
		Alias:      c.alias,
		Messages:   []gms.Event{ev},
	}
	s.mu.Unlock()
	if !s.opts.OmitNextPositionOnRequest && !fx.omitNext {
		next := ev.Index + 1
		resp.NextPosition = &next
	}
	writeJSON(w, http.StatusOK, resp)
}

// userData collects the userData[key] parameters.
func userData(form url.Values) map[string]string {
	var m map[string]string
	for k, vs := range form {
		key, ok := strings.CutPrefix(k, "userData[")
		if !ok || !strings.HasSuffix(key, "]") || len(vs) == 0 {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[strings.TrimSuffix(key, "]")] = vs[0]
	}
	return m
}

// requiredParams are the parameters of a session operation besides the session triple
// that must not be empty.
var requiredParams = map[gms.Operation]string{
	gms.OpSend:           gms.ParamMessage,
	gms.OpPushURL:        gms.ParamPushURL,
	gms.OpUpdateNickname: gms.ParamNickname,
}

// session serves an operation on an existing chat.
func (s *Simulator) session(w http.ResponseWriter, op gms.Operation, chatID, fileID string, form url.Values, u upload, fx effects) {
	for _, p := range []string{gms.ParamUserID, gms.ParamSecureKey, gms.ParamAlias, requiredParams[op]} {
		if p != "" && form.Get(p) == "" {
			badRequest(w, chatID, "missing required parameter "+p)
			return
		}
	}
	pos := 0
	if v := form.Get(gms.ParamTranscriptPosition); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			badRequest(w, chatID, "invalid parameter transcriptPosition: not a non-negative integer")
			return
		}
		pos = n
	}
	now := s.clock.Now()
	s.mu.Lock()
	status, resp := s.sessionLocked(op, chatID, fileID, form, u, pos, now, fx)
	s.mu.Unlock()
	// resp may hold a subslice of the transcript, or a stored file: appended events and
	// stored files are never modified, so it is safe to write without the lock.
	if f, ok := resp.(fileAnswer); ok {
		f.write(w)
		return
	}
	writeJSON(w, status, resp)
}

// sessionLocked checks the session and performs op. Callers hold s.mu.
func (s *Simulator) sessionLocked(op gms.Operation, chatID, fileID string, form url.Values, u upload, pos int, now time.Time, fx effects) (int, any) {
	userID := form.Get(gms.ParamUserID)
	c, ok := s.chats[chatID]
	if !ok {
		resp := errorResponse(gms.StatusUnrecoverable, codeNoSuchUser, "no such user in the session")
		resp.ChatID, resp.UserID, resp.ChatEnded = chatID, userID, true
		return http.StatusOK, resp
	}
	s.idle(c, now)
	if alias := form.Get(gms.ParamAlias); alias != c.alias {
		resp := errorResponse(gms.StatusRecoverable, codeStaleAlias,
			fmt.Sprintf("alias %q is not the current Chat Server", alias))
		resp.ChatID, resp.UserID = chatID, userID
		return http.StatusOK, resp
	}
	if userID != c.userID {
		resp := errorResponse(gms.StatusUnrecoverable, codeNoSuchUser, "no such user in the session")
		resp.ChatID, resp.UserID, resp.Alias = chatID, userID, c.alias
		return http.StatusOK, resp
	}
	if subtle.ConstantTimeCompare([]byte(form.Get(gms.ParamSecureKey)), []byte(c.secureKey)) != 1 {
		if !c.ended {
			c.add(now, gms.Event{From: c.client(), Type: gms.EventParticipantLeft})
			c.end()
		}
		c.endDelivered = true
		resp := errorResponse(gms.StatusUnrecoverable, codeBadSecureKey, "bad secure key: the client was removed from the session")
		resp.ChatID, resp.UserID, resp.Alias, resp.ChatEnded = chatID, userID, c.alias, true
		return http.StatusOK, resp
	}
	c.requested(now)
	if fx.aliasChange {
		c.alias = fx.alias
		if c.alias == "" {
			c.alias = s.newAlias()
		}
	}
	resp := gms.Response{StatusCode: gms.StatusOK, ChatID: c.id, UserID: c.userID, Alias: c.alias, ChatEnded: c.ended}
	withDelta := func() {
		msgs, next := c.delta(pos, fx.duplicateLast)
		resp.Messages = msgs
		if !fx.omitNext {
			resp.NextPosition = &next
		}
	}
	if c.ended {
		if op == gms.OpRefresh && !c.endDelivered {
			c.endDelivered = true
			withDelta()
			return http.StatusOK, resp
		}
		resp.StatusCode = gms.StatusUnrecoverable
		resp.Errors = []gms.APIError{{Code: codeLoggedOut, Advice: "user was logged out: the chat has ended"}}
		return http.StatusOK, resp
	}

	text := form.Get(gms.ParamMessage)
	switch op {
	case gms.OpRefresh:
		withDelta()
	case gms.OpSend:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventMessage, Text: text, MessageType: form.Get(gms.ParamMessageType)})
		withDelta()
	case gms.OpStartTyping:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventTypingStarted, Text: text})
	case gms.OpStopTyping:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventTypingStopped, Text: text})
	case gms.OpPushURL:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventPushURL, Text: form.Get(gms.ParamPushURL)})
	case gms.OpCustomNotice:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventCustomNotice, Text: text})
	case gms.OpUpdateNickname:
		c.nickname = form.Get(gms.ParamNickname)
		c.add(now, gms.Event{From: c.client(), Type: gms.EventNicknameUpdated, Text: c.nickname})
	case gms.OpUpdateData:
		for k, v := range userData(form) {
			if c.userData == nil {
				c.userData = map[string]string{}
			}
			c.userData[k] = v
		}
	case gms.OpReadReceipt:
	case gms.OpDisconnect:
		c.add(now, gms.Event{From: c.client(), Type: gms.EventParticipantLeft})
		c.end()
		c.endDelivered = true
		resp.ChatEnded = true
	case gms.OpFileLimits:
		resp.Messages = []gms.Event{s.limitsNotice(c, now)}
	case gms.OpFileUpload:
		return s.uploadLocked(c, u, resp, now)
	case gms.OpFileDownload:
		return s.downloadLocked(c, fileID, resp)
	case gms.OpFileDelete:
		return s.deleteLocked(c, fileID, resp, now)
	default:
		resp.StatusCode = gms.StatusUnrecoverable
		resp.Errors = []gms.APIError{{Code: codeNotSupported, Advice: fmt.Sprintf("%s is not supported by the simulator", op)}}
	}
	return http.StatusOK, resp
}
