package gmssim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// Bounds of the control API answers ControlClient reads. /sim/chats and /sim/requests of a
// long run hold every transcript and request, hence the generous bound; it only keeps a
// wrong address from making the client read without end.
const (
	maxControlAnswer  = 64 << 20
	maxControlProblem = 64 << 10
)

// ControlClient calls a simulator's control API (/sim/) over HTTP: it plays the agent side,
// injects faults and reads chats and recorded requests of a simulator running in another
// process (the demo's, the benchmark's, the e2e suite's pod). In the same process, call
// the Simulator's methods instead. It is safe for concurrent use.
//
// Every method takes a context that bounds the call. An answer other than the one
// expected is a *ControlError.
type ControlClient struct {
	base string
	http *http.Client
}

// NewControlClient returns a client of the control API of the simulator at baseURL
// (http://host:port, the address the simulator serves the Chat API and /sim/ on).
// httpClient carries the calls (its transport, timeout and connection pool are the
// caller's choice: the benchmark posts hundreds of messages a second); http.DefaultClient
// when nil.
func NewControlClient(baseURL string, httpClient *http.Client) *ControlClient {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &ControlClient{base: strings.TrimRight(baseURL, "/"), http: httpClient}
}

// ControlError is a control API call the simulator refused: 404 for an unknown chat, 409
// for an ended chat or an agent action without an agent, 400 for a bad body or fault.
type ControlError struct {
	// Method and Path are the call's.
	Method, Path string
	// Status is the answer's HTTP status.
	Status int
	// Detail is the problem's detail, or the start of the answer when it was not a
	// problem document.
	Detail string
}

func (e *ControlError) Error() string {
	return fmt.Sprintf("GMS simulator control API: %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Detail)
}

// Chats reads every chat of the simulator (GET /sim/chats).
func (c *ControlClient) Chats(ctx context.Context) ([]Chat, error) {
	var chats []Chat
	return chats, c.do(ctx, http.MethodGet, "/sim/chats", nil, http.StatusOK, &chats)
}

// Chat reads one chat, transcript included (GET /sim/chats/{id}).
func (c *ControlClient) Chat(ctx context.Context, chatID string) (Chat, error) {
	var chat Chat
	return chat, c.do(ctx, http.MethodGet, controlChatPath(chatID), nil, http.StatusOK, &chat)
}

// Join has an agent join the chat (POST /sim/chats/{id}/join), as AgentJoin does.
func (c *ControlClient) Join(ctx context.Context, chatID string, a Agent) error {
	return c.act(ctx, chatID, actionJoin, &AgentAction{Nickname: a.Nickname, Email: a.Email})
}

// Message has the current agent send a message (POST /sim/chats/{id}/message), as
// AgentMessage does.
func (c *ControlClient) Message(ctx context.Context, chatID, text string) error {
	return c.act(ctx, chatID, actionMessage, &AgentAction{Text: text})
}

// Typing has the current agent start or stop typing (POST /sim/chats/{id}/typing), as
// AgentTyping does.
func (c *ControlClient) Typing(ctx context.Context, chatID string, typing bool) error {
	return c.act(ctx, chatID, actionTyping, &AgentAction{Typing: typing})
}

// PushURL has the current agent push a URL (POST /sim/chats/{id}/push), as AgentPushURL
// does.
func (c *ControlClient) PushURL(ctx context.Context, chatID, pushURL string) error {
	return c.act(ctx, chatID, actionPush, &AgentAction{URL: pushURL})
}

// Leave has the current agent leave (POST /sim/chats/{id}/leave), as AgentLeave does.
func (c *ControlClient) Leave(ctx context.Context, chatID string) error {
	return c.act(ctx, chatID, actionLeave, nil)
}

// Transfer hands the chat to another agent (POST /sim/chats/{id}/transfer), as Transfer
// does.
func (c *ControlClient) Transfer(ctx context.Context, chatID string, to Agent) error {
	return c.act(ctx, chatID, actionTransfer, &AgentAction{Nickname: to.Nickname, Email: to.Email})
}

// Notice adds a system notice (POST /sim/chats/{id}/notice), as Notice does.
func (c *ControlClient) Notice(ctx context.Context, chatID, text string) error {
	return c.act(ctx, chatID, actionNotice, &AgentAction{Text: text})
}

// Close has the agents leave and ends the chat (POST /sim/chats/{id}/close), as Close
// does.
func (c *ControlClient) Close(ctx context.Context, chatID string) error {
	return c.act(ctx, chatID, actionClose, nil)
}

// File has the current agent send a file (POST /sim/chats/{id}/file, the data base64 in
// the JSON body), as AgentFile does, and returns the file's id.
func (c *ControlClient) File(ctx context.Context, chatID, name, contentType string, data []byte) (string, error) {
	var chat Chat
	err := c.do(ctx, http.MethodPost, controlChatPath(chatID)+"/"+actionFile,
		&AgentAction{FileName: name, ContentType: contentType, Data: data}, http.StatusOK, &chat)
	if err != nil {
		return "", err
	}
	for i := len(chat.Transcript) - 1; i >= 0; i-- {
		if e := chat.Transcript[i]; e.Type == gms.EventFileUploaded && e.From.Type == gms.ParticipantAgent {
			return e.UserData[gms.FileIDKey], nil
		}
	}
	return "", fmt.Errorf("GMS simulator control API: the chat %s shows no file of the agent", chatID)
}

// Faults lists the active faults with their ids (GET /sim/faults). Being cheap and
// always 200, it also tells that a simulator is up.
func (c *ControlClient) Faults(ctx context.Context) ([]ActiveFault, error) {
	var faults []ActiveFault
	return faults, c.do(ctx, http.MethodGet, "/sim/faults", nil, http.StatusOK, &faults)
}

// Inject adds a fault and returns its id (POST /sim/faults), as Inject does.
func (c *ControlClient) Inject(ctx context.Context, f Fault) (int, error) {
	var answer struct {
		ID int `json:"id"`
	}
	return answer.ID, c.do(ctx, http.MethodPost, "/sim/faults", f, http.StatusOK, &answer)
}

// ClearFaults removes every fault (DELETE /sim/faults).
func (c *ControlClient) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/sim/faults", nil, http.StatusNoContent, nil)
}

// Requests reads the recorded Chat API requests (GET /sim/requests). Unlike the
// Simulator's Requests, their secure keys and credentials read "<redacted>": the control
// API never shows a secret.
func (c *ControlClient) Requests(ctx context.Context) ([]Request, error) {
	var reqs []Request
	return reqs, c.do(ctx, http.MethodGet, "/sim/requests", nil, http.StatusOK, &reqs)
}

// ResetRequests forgets the recorded requests (DELETE /sim/requests).
func (c *ControlClient) ResetRequests(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/sim/requests", nil, http.StatusNoContent, nil)
}

// Stats reads the figures over the chats (GET /sim/stats).
func (c *ControlClient) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	return st, c.do(ctx, http.MethodGet, "/sim/stats", nil, http.StatusOK, &st)
}

// ResetStats starts the request gaps afresh (DELETE /sim/stats).
func (c *ControlClient) ResetStats(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/sim/stats", nil, http.StatusNoContent, nil)
}

// ActiveFault is an injected fault as GET /sim/faults lists it: its id, and the hits it
// has left (0: until cleared).
type ActiveFault struct {
	ID int
	Fault
	Left int
}

// UnmarshalJSON reads the fault's fields, and its id and hits left beside them. It is
// needed because the embedded Fault's own UnmarshalJSON would otherwise be promoted and
// leave ID and Left unread.
func (a *ActiveFault) UnmarshalJSON(data []byte) error {
	var extra struct {
		ID   int `json:"id"`
		Left int `json:"left"`
	}
	if err := json.Unmarshal(data, &extra); err != nil {
		return fmt.Errorf("decoding an active fault: %w", err)
	}
	if err := json.Unmarshal(data, &a.Fault); err != nil {
		return err
	}
	a.ID, a.Left = extra.ID, extra.Left
	return nil
}

// MarshalJSON writes the fault as the control API lists it, for the same reason.
func (a ActiveFault) MarshalJSON() ([]byte, error) {
	return activeFault(a).MarshalJSON()
}

// controlChatPath is the control API path of a chat.
func controlChatPath(chatID string) string { return "/sim/chats/" + url.PathEscape(chatID) }

// act posts an agent action (body nil: none). The simulator answers the chat after the
// action; it is read and dropped, not decoded, since a benchmark posts many actions and
// the transcript grows: call Chat to see it.
func (c *ControlClient) act(ctx context.Context, chatID, action string, body *AgentAction) error {
	var b any
	if body != nil {
		b = body
	}
	return c.do(ctx, http.MethodPost, controlChatPath(chatID)+"/"+action, b, http.StatusOK, nil)
}

// do sends a call (body nil: none), expects the status want and decodes the answer into
// out (nil: drained and dropped).
func (c *ControlClient) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("GMS simulator control API: encoding the body of %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("GMS simulator control API: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GMS simulator control API: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxControlProblem))
		detail := strings.TrimSpace(string(raw))
		var p problem
		if json.Unmarshal(raw, &p) == nil && p.Detail != "" {
			detail = p.Detail
		}
		return &ControlError{Method: method, Path: path, Status: resp.StatusCode, Detail: detail}
	}
	limited := io.LimitReader(resp.Body, maxControlAnswer+1)
	if out == nil {
		// Drained so that the connection is reused.
		if _, err := io.Copy(io.Discard, limited); err != nil {
			return fmt.Errorf("GMS simulator control API: %s %s: reading the answer: %w", method, path, err)
		}
		return nil
	}
	raw, err := io.ReadAll(limited)
	if err != nil {
		return fmt.Errorf("GMS simulator control API: %s %s: reading the answer: %w", method, path, err)
	}
	if len(raw) > maxControlAnswer {
		return fmt.Errorf("GMS simulator control API: %s %s: the answer is over %d bytes", method, path, maxControlAnswer)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("GMS simulator control API: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
