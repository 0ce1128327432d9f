package gms

import (
	"context"
	"fmt"
	"net/url"
)

// RequestChat starts a chat. It returns the session the answer established, the answer
// (its transcript starts the chat's), or an error: an *Error when the call failed or the
// answer lacks chatId, userId or secureKey (Code "decode"; the caller decides whether to
// request another chat).
func (c *Client) RequestChat(ctx context.Context, req ChatRequest) (*Session, *Response, error) {
	resp, info, err := c.doCall(ctx, OpRequestChat, nil, req.form())
	if err != nil {
		return nil, resp, err
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"chatId", resp.ChatID}, {ParamUserID, resp.UserID}, {ParamSecureKey, resp.SecureKey},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, resp, &Error{
			Op:         OpRequestChat,
			HTTPStatus: info.httpStatus,
			StatusCode: resp.StatusCode,
			ChatEnded:  resp.ChatEnded,
			Attempts:   info.attempts,
			Err:        &decodeError{reason: fmt.Sprintf("answer lacks %v", missing)},
		}
	}
	return NewSession(resp.ChatID, resp.UserID, resp.SecureKey, resp.Alias), resp, nil
}

// Refresh asks for the transcript from position on; it also keeps the session alive.
func (c *Client) Refresh(ctx context.Context, s *Session, position int) (*Response, error) {
	f := url.Values{}
	setPosition(f, position)
	return c.Call(ctx, OpRefresh, s, f)
}

// Send sends a message of the end user. messageType is left out when empty; position,
// when positive, is sent as transcriptPosition so that the answer carries the transcript
// delta.
func (c *Client) Send(ctx context.Context, s *Session, text, messageType string, position int) (*Response, error) {
	f := url.Values{}
	f.Set(ParamMessage, text)
	setIf(f, ParamMessageType, messageType)
	if position > 0 {
		setPosition(f, position)
	}
	return c.Call(ctx, OpSend, s, f)
}

// StartTyping tells the agent the end user is typing; preview, when not empty, is the text
// typed so far.
func (c *Client) StartTyping(ctx context.Context, s *Session, preview string) (*Response, error) {
	f := url.Values{}
	setIf(f, ParamMessage, preview)
	return c.Call(ctx, OpStartTyping, s, f)
}

// StopTyping tells the agent the end user stopped typing; preview, when not empty, is the
// text typed so far.
func (c *Client) StopTyping(ctx context.Context, s *Session, preview string) (*Response, error) {
	f := url.Values{}
	setIf(f, ParamMessage, preview)
	return c.Call(ctx, OpStopTyping, s, f)
}

// Disconnect ends the end user's part in the chat.
func (c *Client) Disconnect(ctx context.Context, s *Session) (*Response, error) {
	return c.Call(ctx, OpDisconnect, s, nil)
}

// PushURL shows the agent a URL.
func (c *Client) PushURL(ctx context.Context, s *Session, url string) (*Response, error) {
	f := make(map[string][]string, 1)
	f[ParamPushURL] = []string{url}
	return c.Call(ctx, OpPushURL, s, f)
}

// CustomNotice sends a custom notice; text is left out when empty.
func (c *Client) CustomNotice(ctx context.Context, s *Session, text string) (*Response, error) {
	f := url.Values{}
	setIf(f, ParamMessage, text)
	return c.Call(ctx, OpCustomNotice, s, f)
}

// UpdateNickname changes the end user's nickname.
func (c *Client) UpdateNickname(ctx context.Context, s *Session, nickname string) (*Response, error) {
	f := url.Values{}
	f.Set(ParamNickname, nickname)
	return c.Call(ctx, OpUpdateNickname, s, f)
}

// UpdateData adds to or changes the chat's attached data, sent as userData[key]=value.
func (c *Client) UpdateData(ctx context.Context, s *Session, data map[string]string) (*Response, error) {
	f := url.Values{}
	addUserData(f, data)
	return c.Call(ctx, OpUpdateData, s, f)
}

// ReadReceipt tells the agent the end user has read the transcript up to position.
func (c *Client) ReadReceipt(ctx context.Context, s *Session, position int) (*Response, error) {
	f := url.Values{}
	setPosition(f, position)
	return c.Call(ctx, OpReadReceipt, s, f)
}

// Call calls a session operation with form plus the session triple (which replaces any
// userId, secureKey or alias of form; form itself is not modified). It supports the
// operations of SessionOperations; file upload, download and delete need a multipart body
// or a file id in the path and are refused with a plain error (call UploadFile,
// DownloadFile and DeleteFile), as is a nil session.
func (c *Client) Call(ctx context.Context, op Operation, s *Session, form url.Values) (*Response, error) {
	if s == nil {
		return nil, fmt.Errorf("gms %s: %w", op, errNoSession)
	}
	if op == OpRequestChat {
		return nil, fmt.Errorf("gms %s: not a session operation", op)
	}
	return c.do(ctx, op, s, form)
}
