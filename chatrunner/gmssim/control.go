package gmssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxControlBody bounds a control API request body; maxControlFileBody that of an agent's
// file (its data in base64).
const (
	maxControlBody     = 1 << 20
	maxControlFileBody = 96 << 20
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers err with the status its kind calls for.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNoSuchChat):
		status = http.StatusNotFound
	case errors.Is(err, ErrChatEnded), errors.Is(err, ErrNoAgent):
		status = http.StatusConflict
	}
	writeProblem(w, status, err.Error())
}

// decode reads an optional JSON body of at most maxControlBody bytes into v; an empty body
// leaves v as is.
func decode(r *http.Request, v any) error { return decodeUpTo(r, v, maxControlBody) }

// decodeUpTo is decode with another bound.
func decodeUpTo(r *http.Request, v any, limit int64) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return errors.New("the body is too large")
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding the body: %w", err)
	}
	return nil
}

// controlHandler serves the control API.
func (s *Simulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sim/chats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Chats())
	})
	mux.HandleFunc("GET /sim/chats/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		c, ok := s.Chat(id)
		if !ok {
			writeError(w, fmt.Errorf("chat %s: %w", id, ErrNoSuchChat))
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("POST /sim/chats/{id}/{action}", s.serveAgentAction)
	mux.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.activeFaults())
	})
	mux.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decode(r, &f); err != nil {
			writeError(w, err)
			return
		}
		if err := validateFault(f); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"id": s.Inject(f)})
	})
	mux.HandleFunc("DELETE /sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		reqs := s.Requests()
		for i := range reqs {
			reqs[i] = reqs[i].redact()
		}
		writeJSON(w, http.StatusOK, reqs)
	})
	mux.HandleFunc("DELETE /sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("DELETE /sim/stats", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/sim/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "no such control operation: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// The agent actions: the last segment of POST /sim/chats/{id}/{action}, served here and
// called by ControlClient.
const (
	actionJoin     = "join"
	actionMessage  = "message"
	actionTyping   = "typing"
	actionPush     = "push"
	actionLeave    = "leave"
	actionTransfer = "transfer"
	actionNotice   = "notice"
	actionClose    = "close"
	actionFile     = "file"
)

// AgentAction is the body of POST /sim/chats/{id}/{action}, for every action: each reads
// the fields it needs (join and transfer the agent's nickname and email, message and
// notice the text, typing its flag, push the url, file the file's name, content type and
// data, base64 in JSON) and ignores the others, so one type serves the server and
// ControlClient.
type AgentAction struct {
	Nickname    string `json:"nickname,omitempty"`
	Email       string `json:"email,omitempty"`
	Text        string `json:"text,omitempty"`
	Typing      bool   `json:"typing,omitempty"`
	URL         string `json:"url,omitempty"`
	FileName    string `json:"fileName,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Data        []byte `json:"data,omitempty"`
}

// serveAgentAction serves POST /sim/chats/{id}/{action} and answers the chat afterwards.
func (s *Simulator) serveAgentAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var b AgentAction
	limit := int64(maxControlBody)
	if action == actionFile {
		limit = maxControlFileBody
	}
	if err := decodeUpTo(r, &b, limit); err != nil {
		writeError(w, err)
		return
	}
	var err error
	switch action {
	case actionJoin:
		err = s.AgentJoin(id, Agent{Nickname: b.Nickname, Email: b.Email})
	case actionMessage:
		err = s.AgentMessage(id, b.Text)
	case actionTyping:
		err = s.AgentTyping(id, b.Typing)
	case actionPush:
		err = s.AgentPushURL(id, b.URL)
	case actionLeave:
		err = s.AgentLeave(id)
	case actionTransfer:
		err = s.Transfer(id, Agent{Nickname: b.Nickname, Email: b.Email})
	case actionNotice:
		err = s.Notice(id, b.Text)
	case actionClose:
		err = s.Close(id)
	case actionFile:
		_, err = s.AgentFile(id, b.FileName, b.ContentType, b.Data)
	default:
		writeProblem(w, http.StatusNotFound, "no such agent action: "+action)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	c, _ := s.Chat(id)
	writeJSON(w, http.StatusOK, c)
}
