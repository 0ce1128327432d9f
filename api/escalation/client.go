package escalation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds of the answers the Client reads. A runner's answers are small (an event page
// holds at most 100 events); the bounds keep a misbehaving server or a proxy's error page
// from making the bot read without end.
const (
	// maxAnswerBytes bounds a successful answer.
	maxAnswerBytes = 8 << 20
	// maxProblemBytes bounds an error answer; a problem document is a few hundred bytes.
	maxProblemBytes = 64 << 10
	// maxDetailBytes bounds the part of a non-problem error body kept as the detail.
	maxDetailBytes = 512
)

// Client calls a gateway's escalation API as a bot does. It is safe for concurrent use.
//
// Every method takes a context: cancelling it abandons the call (a long poll included).
// An answer outside 2xx is returned as a *Problem; a failure to reach the runner or to
// read its answer as another error.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the escalation API at baseURL (the gateway's Service,
// http://<gateway>-escalations.<namespace>.svc, or any runner's address), sending token
// as the bearer token of every call. httpClient carries the calls; http.DefaultClient
// when nil. Give it a Timeout above the longest events wait you ask for (MaxWait at
// most), or none and bound calls with their context.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// Escalate hands a conversation to an agent (POST /v1/chats). created is true for a new
// chat (201) and false when the conversation's chat was live already (200): escalating is
// idempotent per ConversationID, so a bot retries it after any failure.
func (c *Client) Escalate(ctx context.Context, r Request) (chat Chat, created bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/chats", nil, r, &chat)
	return chat, status == http.StatusCreated, err
}

// Chat reads a chat (GET /v1/chats/{id}). An unknown chat, or one ended long enough ago
// to be forgotten, is a *Problem of type ProblemNotFound.
func (c *Client) Chat(ctx context.Context, id string) (Chat, error) {
	var chat Chat
	_, err := c.do(ctx, http.MethodGet, chatPath(id), nil, nil, &chat)
	return chat, err
}

// ChatOfConversation finds the live chat of a bot's conversation on whichever runner
// carries it (GET /v1/conversations/{conversationId}), for a bot that lost the chat's id.
// None is a *Problem of type ProblemNotFound.
func (c *Client) ChatOfConversation(ctx context.Context, conversationID string) (Chat, error) {
	var chat Chat
	_, err := c.do(ctx, http.MethodGet, "/v1/conversations/"+url.PathEscape(conversationID), nil, nil, &chat)
	return chat, err
}

// Close ends a chat because the user closed the conversation (DELETE /v1/chats/{id}):
// Disconnect on Genesys, state Ended with reason UserClosed. It returns the ended chat;
// closing a chat that is over already just returns it.
func (c *Client) Close(ctx context.Context, id string) (Chat, error) {
	var chat Chat
	_, err := c.do(ctx, http.MethodDelete, chatPath(id), nil, nil, &chat)
	return chat, err
}

// SendMessage sends the user's message to the agent (POST /v1/chats/{id}/messages). While
// the chat is Requesting it is a ProblemConflict: retry once Genesys has the chat. A
// ProblemGenesysRefused means Genesys refused the message: it did not reach the agent
// (Typing and Present answer the same way).
func (c *Client) SendMessage(ctx context.Context, id string, m MessageRequest) error {
	_, err := c.do(ctx, http.MethodPost, chatPath(id)+"/messages", nil, m, nil)
	return err
}

// Typing tells the agent the user started (true) or stopped (false) typing (POST
// /v1/chats/{id}/typing).
func (c *Client) Typing(ctx context.Context, id string, typing bool) error {
	_, err := c.do(ctx, http.MethodPost, chatPath(id)+"/typing", nil, TypingRequest{Typing: &typing}, nil)
	return err
}

// Present shows the agent rich content as a pushed URL (POST /v1/chats/{id}/present); a
// ProblemPresentContentDisabled when the gateway does not forward it.
func (c *Client) Present(ctx context.Context, id string, p PresentRequest) error {
	_, err := c.do(ctx, http.MethodPost, chatPath(id)+"/present", nil, p, nil)
	return err
}

// Events reads the agent side of a chat (GET /v1/chats/{id}/events): every event with
// Seq > after, waiting up to wait for one when there is none yet (a long poll; the
// runner caps the wait at MaxWait, and wait <= 0 does not wait). Pass the page's Next as
// after next time.
func (c *Client) Events(ctx context.Context, id string, after int64, wait time.Duration) (EventPage, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var page EventPage
	_, err := c.do(ctx, http.MethodGet, chatPath(id)+"/events", q, nil, &page)
	return page, err
}

// UploadFile sends the user's file to the agent (POST /v1/chats/{id}/files): one
// multipart part "file" with name and contentType (application/octet-stream when empty),
// streamed from r as the request goes (never held in memory whole). It returns the file's
// id on Genesys. Refusals are *Problems: 413 (ProblemBodyTooLarge) over the gateway's or
// Genesys' size limits, 415 (ProblemUnsupportedMediaType) for a type Genesys does not
// allow, 409 (ProblemConflict) while Genesys needs an agent and none joined yet or when
// the chat's file count is used up, 422 (ProblemInvalidField, field "file") for a bad
// name. A failed upload is not retried: r is consumed.
func (c *Client) UploadFile(ctx context.Context, chatID, name, contentType string, r io.Reader) (string, error) {
	if err := ValidateFileName(name); err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := make(textproto.MIMEHeader, 2)
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": name}))
		h.Set("Content-Type", contentType)
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	path := chatPath(chatID) + "/files"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, pr)
	if err != nil {
		_ = pr.CloseWithError(err)
		return "", fmt.Errorf("escalation API: POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	_ = pr.CloseWithError(errors.New("the upload is over")) // stops the writer if the answer came early
	if err != nil {
		return "", fmt.Errorf("escalation API: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", readProblem(resp)
	}
	raw, err := readBounded(resp.Body, maxProblemBytes)
	if err != nil {
		return "", fmt.Errorf("escalation API: POST %s: reading the answer: %w", path, err)
	}
	var out UploadResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.FileID == "" {
		return "", fmt.Errorf("escalation API: POST %s: the answer holds no fileId", path)
	}
	return out.FileID, nil
}

// DownloadFile reads a file the agent sent (GET /v1/chats/{id}/files/{fileId}, the URL of
// a fileUploaded event): its body streams from the runner, and the caller must close it.
// An unknown chat or file is a *Problem (404), as is a refusal of Genesys (502).
func (c *Client) DownloadFile(ctx context.Context, chatID, fileID string) (io.ReadCloser, FileInfo, error) {
	path := FilePath(chatID, fileID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("escalation API: GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "*/*")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("escalation API: GET %s: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, FileInfo{}, readProblem(resp)
	}
	info := FileInfo{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		info.Name = params["filename"]
	}
	return resp.Body, info, nil
}

// chatPath is the path of a chat; the id is escaped, as it comes from the server.
func chatPath(id string) string { return "/v1/chats/" + url.PathEscape(id) }

// do sends a call (body nil: none) and decodes a 2xx answer into out (nil: ignored). It
// returns the answer's status; a *Problem for an answer outside 2xx.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("escalation API: encoding the body of %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("escalation API: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("escalation API: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, readProblem(resp)
	}
	raw, err := readBounded(resp.Body, maxAnswerBytes)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("escalation API: %s %s: reading the answer: %w", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("escalation API: %s %s: decoding the answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// readProblem reads an error answer as a Problem. An answer that is not a problem
// document still becomes one, from its status and the start of its body, so that every
// answer outside 2xx is a *Problem for the caller.
func readProblem(resp *http.Response) *Problem {
	p := &Problem{}
	raw, err := readBounded(resp.Body, maxProblemBytes)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mt == "application/problem+json" || mt == "application/json"
	if err != nil || !isJSON || json.Unmarshal(raw, p) != nil || p.Type == "" {
		detail := strings.TrimSpace(string(raw))
		if len(detail) > maxDetailBytes {
			detail = strings.ToValidUTF8(detail[:maxDetailBytes], "") + "…"
		}
		p = &Problem{Type: "about:blank", Title: http.StatusText(resp.StatusCode), Detail: detail}
	}
	// The status line is authoritative: a body's status could be missing or disagree.
	p.Status = resp.StatusCode
	p.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return p
}

// errTooLarge reports an answer over its bound.
var errTooLarge = errors.New("the answer is larger than the client accepts")

// readBounded reads all of r up to limit bytes; more is errTooLarge.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return raw, err
	}
	if int64(len(raw)) > limit {
		return raw[:limit], fmt.Errorf("%w (%d bytes)", errTooLarge, limit)
	}
	return raw, nil
}
