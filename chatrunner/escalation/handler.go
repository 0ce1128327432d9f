package escalation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Engine runs the chats; *chat.Manager implements it.
type Engine interface {
	Escalate(ctx context.Context, e chat.Escalation) (chat.View, bool, error)
	Get(id string) (chat.View, error)
	LiveChatOf(ctx context.Context, conversationID string) (chat.View, bool, error)
	SendMessage(ctx context.Context, id, text, messageType, clientMessageID string) error
	Typing(ctx context.Context, id string, typing bool) error
	Present(ctx context.Context, id, url string) error
	Close(ctx context.Context, id string) (chat.View, error)
	Events(ctx context.Context, id string, after int64, wait time.Duration) ([]chat.Event, error)
	Tail(id string, after int64) (chat.Tail, error)
	Stopping() <-chan struct{}
	Feed(cursor map[string]int64) []chat.NewEvents
}

// Options configure the API.
type Options struct {
	Engine Engine
	// Tokens returns the bearer token; calls are refused while it fails.
	Tokens TokenSource
	// Router forwards calls to the runner owning them; nil with a single runner.
	Router *Router
	Log    logr.Logger
	// MaxBodyBytes bounds request bodies; api.MaxBodyBytes (64 KiB) when 0.
	MaxBodyBytes int64
	// MaxWait bounds the wait of an events long poll; api.MaxWait (60 s) when 0.
	MaxWait time.Duration
	// MaxStreams bounds the event streams this runner serves at once; defaultMaxStreams
	// when 0.
	MaxStreams int
	// Heartbeat is the period of an event stream's keep-alive comment; defaultHeartbeat
	// when 0.
	Heartbeat time.Duration
}

// server is the escalation API's HTTP handler.
type server struct {
	opts    Options
	mux     *http.ServeMux
	streams streamSlots
}

// NewHandler returns the escalation API.
func NewHandler(o Options) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = api.MaxBodyBytes
	}
	if o.MaxWait <= 0 {
		o.MaxWait = api.MaxWait
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = defaultMaxStreams
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = defaultHeartbeat
	}
	a := &server{opts: o, mux: http.NewServeMux(), streams: make(streamSlots, o.MaxStreams)}
	a.mux.HandleFunc("/v1/chats", a.chats)
	a.mux.HandleFunc("/v1/chats/{id}", a.chat)
	a.mux.HandleFunc("/v1/chats/{id}/{action}", a.action)
	a.mux.HandleFunc("/v1/chats/{id}/files", a.files)
	a.mux.HandleFunc("/v1/chats/{id}/files/{fileId}", a.file)
	a.mux.HandleFunc("/v1/conversations/{id}", a.conversation)
	a.mux.HandleFunc("/v1/events", a.allEvents)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problemNotFound.with("No such resource: "+r.URL.Path, "").write(w)
	})
	// The OpenAPI document holds no secret: a bot or tool fetches it without the token.
	outer := http.NewServeMux()
	outer.HandleFunc("/v1/openapi.yaml", serveOpenAPI)
	outer.Handle("/", authenticate(o.Tokens, a.mux))
	return outer
}

// chats serves POST /v1/chats: escalate.
func (a *server) chats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	body, p := a.readBody(w, r)
	if p != nil {
		p.write(w)
		return
	}
	var req api.Request
	if p := decodeValid(body, &req, req.Validate); p != nil {
		p.write(w)
		return
	}
	if a.opts.Router != nil && a.opts.Router.forward(w, withBody(r, body), a.opts.Router.ownerOfConversation(req.ConversationID)) {
		return
	}
	// The conversation belongs here now, but its live chat may be on the runner it belonged
	// to before the gateway was scaled: escalating it again must return that chat, never
	// open a second Genesys chat for the same user.
	_, live, err := a.opts.Engine.LiveChatOf(r.Context(), req.ConversationID)
	if err != nil {
		a.fail(w, err)
		return
	}
	if !live && a.answeredByPeers(w, r, req.ConversationID) {
		return
	}
	v, created, err := a.opts.Engine.Escalate(r.Context(), escalationOf(&req))
	if err != nil {
		a.fail(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/chats/"+v.ID)
	}
	writeJSON(w, status, chatOf(v))
}

// chat serves GET and DELETE /v1/chats/{id}.
func (a *server) chat(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if a.forwardChat(w, r, id) {
		return
	}
	var v chat.View
	var err error
	switch r.Method {
	case http.MethodGet:
		v, err = a.opts.Engine.Get(id)
	case http.MethodDelete:
		v, err = a.opts.Engine.Close(r.Context(), id)
	default:
		methodNotAllowed(w, "GET, DELETE")
		return
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, chatOf(v))
}

// action serves the calls on a chat: messages, typing, present and events.
func (a *server) action(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	want := map[string]string{"messages": http.MethodPost, "typing": http.MethodPost, "present": http.MethodPost, "events": http.MethodGet}[action]
	switch {
	case want == "":
		problemNotFound.with("No such resource: "+r.URL.Path, "").write(w)
		return
	case r.Method != want:
		methodNotAllowed(w, want)
		return
	case a.forwardChat(w, r, id):
		return
	case action == "events" && wantsStream(r):
		a.stream(w, r, id)
		return
	case action == "events":
		a.events(w, r, id)
		return
	}
	body, p := a.readBody(w, r)
	if p != nil {
		p.write(w)
		return
	}
	var err error
	switch action {
	case "messages":
		var req api.MessageRequest
		if p = decodeValid(body, &req, req.Validate); p == nil {
			err = a.opts.Engine.SendMessage(r.Context(), id, req.Text, req.Type, req.ClientMessageID)
		}
	case "typing":
		var req api.TypingRequest
		if p = decodeValid(body, &req, req.Validate); p == nil {
			err = a.opts.Engine.Typing(r.Context(), id, *req.Typing)
		}
	case "present":
		var req api.PresentRequest
		if p = decodeValid(body, &req, req.Validate); p == nil {
			err = a.opts.Engine.Present(r.Context(), id, req.URL)
		}
	}
	switch {
	case p != nil:
		p.write(w)
	case err != nil:
		a.fail(w, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// events serves the long poll GET /v1/chats/{id}/events?after=N&wait=30s.
func (a *server) events(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	after, err := strconv.ParseInt(q.Get("after"), 10, 64)
	if q.Get("after") == "" {
		after, err = 0, nil
	}
	if err != nil || after < 0 {
		problemInvalid.with("after must be a non-negative integer (the last seq read)", "after").write(w)
		return
	}
	wait, err := parseWait(q.Get("wait"))
	if err != nil {
		problemInvalid.with("wait must be a duration such as 30s, or seconds", "wait").write(w)
		return
	}
	evs, err := a.opts.Engine.Events(r.Context(), id, after, min(wait, a.opts.MaxWait))
	if err != nil {
		a.fail(w, err)
		return
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, api.EventPage{ChatID: id, Events: eventsOf(evs), Next: next})
}

// forwardChat forwards a call on a chat another runner owns.
func (a *server) forwardChat(w http.ResponseWriter, r *http.Request, id string) bool {
	if a.opts.Router == nil {
		return false
	}
	owner, ok := ownerOfChat(id)
	return ok && a.opts.Router.forward(w, r, owner)
}

// fail maps an engine error to a problem.
func (a *server) fail(w http.ResponseWriter, err error) {
	var (
		invalid  *chat.InvalidError
		state    *chat.StateError
		capacity *chat.CapacityError
		refused  *chat.RefusedError
		gerr     *gms.Error
	)
	var stored *chat.StoreError
	switch {
	case errors.Is(err, chat.ErrHandedOver):
		p := problemUnavailable.with("The chat is being handed over to another runner; retry shortly.", "")
		p.RetryAfter = time.Second
		p.write(w)
	case errors.Is(err, chat.ErrDraining):
		p := problemUnavailable.with("This runner is stopping; retry and another runner takes the escalation.", "")
		p.RetryAfter = time.Second
		p.write(w)
	case errors.As(err, &stored):
		a.opts.Log.Info("Refused escalation: the chat store could not record it", "error", stored.Err.Error())
		p := problemUnavailable.with("The chat could not be recorded durably (the Kubernetes API is unavailable); retry shortly.", "")
		p.RetryAfter = time.Second
		p.write(w)
	case errors.Is(err, chat.ErrNotFound):
		problemNotFound.with("No chat with this id on this gateway (ended chats are kept for a while, then forgotten).", "").write(w)
	case errors.Is(err, chat.ErrPresentDisabled):
		problemPresentDisabled.with(err.Error(), "").write(w)
	case errors.As(err, &invalid):
		problemInvalid.with(invalid.Error(), invalid.Field).write(w)
	case errors.As(err, &state):
		problemConflict.with(state.Error(), "").write(w)
	case errors.As(err, &capacity):
		p := problemOverCapacity.with(capacity.Error()+"; retry later", "")
		p.RetryAfter = capacity.RetryAfter
		p.write(w)
	case errors.As(err, &refused): // before gms.Error, which it wraps
		problemRefused.with(refused.Error()+refusedAdvice(refused), "").write(w)
	case errors.As(err, &gerr):
		problemUpstream.with(err.Error(), "").write(w)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The call ended (the bot gave up, or the runner is stopping) before it was done.
		p := problemUnavailable.with("The call ended before the runner could carry it out; retry.", "")
		p.RetryAfter = time.Second
		p.write(w)
	default:
		a.opts.Log.Error(err, "Failed escalation API call")
		problemInternal.with("The runner failed this call; see its logs.", "").write(w)
	}
}

// readBody reads a JSON request body within the size limit.
func (a *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *problem) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		p := problemMediaType.with("Send Content-Type: application/json.", "")
		return nil, &p
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		p := problemTooLarge.with("The body must be at most "+strconv.FormatInt(a.opts.MaxBodyBytes, 10)+" bytes.", "")
		return nil, &p
	case err != nil:
		p := problemMalformed.with("The body could not be read.", "")
		return nil, &p
	}
	return body, nil
}

// decode reads one JSON object, refusing unknown fields.
func decode(body []byte, v any) *problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		p := problemMalformed.with(err.Error(), "")
		return &p
	}
	if dec.More() {
		p := problemMalformed.with("The body must hold a single JSON object.", "")
		return &p
	}
	return nil
}

// decodeValid decodes and validates a body; validate is the body type's Validate, which
// bots can run too, so both sides refuse the same fields.
func decodeValid(body []byte, v any, validate func() error) *problem {
	if p := decode(body, v); p != nil {
		return p
	}
	if err := validate(); err != nil {
		field := ""
		if fe, ok := errors.AsType[*api.FieldError](err); ok {
			field = fe.Field
		}
		p := problemInvalid.with(err.Error(), field)
		return &p
	}
	return nil
}

// withBody gives a request whose body was read a fresh copy of it, for forwarding.
func withBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// parseWait reads a wait: a Go duration or a number of seconds; empty is no wait.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad wait")
	}
	return d, nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	problemMethodNotAllowed.with("Allowed: "+allow+".", "").write(w)
}

// refusedAdvice tells the bot what a refusal means for the conversation: the call did
// not reach the agent either way, and whether a retry can help.
func refusedAdvice(e *chat.RefusedError) string {
	if e.Ended {
		return ". It did not reach the agent. Do not resend: the chat is over (see its last event); escalate again to reach an agent."
	}
	return ". It did not reach the agent. The chat goes on: tell the user, or send it again later."
}
