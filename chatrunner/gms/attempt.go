package gms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
)

// maxBodyBytes bounds the answer read: a transcript delta is far smaller.
const maxBodyBytes = 8 << 20

// attemptResult is the outcome of one attempt.
type attemptResult struct {
	// resp is the parsed envelope, nil when there was none.
	resp *Response
	// err is nil on success.
	err *Error
	// httpStatus is the HTTP status of the answer, 0 when none.
	httpStatus int
	// retryAfter is the server's Retry-After of a 429 or 503, 0 when none.
	retryAfter time.Duration
}

// requestError is a request that could not be built: not retried.
type requestError struct{ reason string }

func (e *requestError) Error() string { return "build request: " + e.reason }

// attempt POSTs form to endpoint once, within the attempt timeout, and classifies the
// answer.
func (c *Client) attempt(ctx context.Context, cfg *config, op Operation, endpoint, form string) attemptResult {
	if op == OpRefresh && cfg.fast && c.fast != nil {
		return c.fastPost(ctx, c.fast.FastClient(), op, endpoint, form, cfg.timeout)
	}
	body := strings.NewReader(form)
	return c.post(ctx, op, endpoint, formContentType, body, body.Size(), cfg.timeout)
}

// The request headers of every attempt.
const formContentType = "application/x-www-form-urlencoded"

var (
	acceptJSON           = []string{"application/json"}
	formContentTypeValue = []string{formContentType}
)

// post POSTs body (of contentType, length bytes; -1 unknown) to endpoint once, within
// timeout, and classifies the answer.
func (c *Client) post(ctx context.Context, op Operation, endpoint, contentType string, reqBody io.Reader, length int64, timeout time.Duration) attemptResult {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(httpStatus int, err error) attemptResult {
		return attemptResult{err: &Error{Op: op, HTTPStatus: httpStatus, StatusCode: -1, Err: err}}
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint, reqBody)
	if err != nil {
		// Not wrapped: its text would repeat the URL, which may carry credentials.
		return fail(0, &requestError{reason: "invalid URL"})
	}
	if length >= 0 {
		req.ContentLength = length
	}
	// Shared values, never written to: no slice per header per attempt.
	req.Header["Accept"] = acceptJSON
	if contentType == formContentType {
		req.Header["Content-Type"] = formContentTypeValue
	} else {
		req.Header.Set("Content-Type", contentType)
	}
	hr, failure := c.authorizedDo(ctx, actx, req, timeout)
	if failure != nil {
		return fail(0, failure)
	}
	defer func() { _ = hr.Body.Close() }()
	buf := getBodyBuffer()
	defer putBodyBuffer(buf)
	body, err := readLimited(hr.Body, (*buf)[:0], maxBodyBytes+1)
	*buf = body // grown: the pool keeps the larger buffer (up to maxPooledBody)
	if err != nil {
		return fail(hr.StatusCode, transportError(ctx, actx, timeout, err))
	}
	return c.answer(op, hr.StatusCode, body, hr.Header.Get("Retry-After"))
}

// answer classifies a complete answer of op: its HTTP status, its body (as read: more than
// maxBodyBytes is refused) and its Retry-After header. Nothing decoded keeps a reference to
// body: encoding/json copies strings.
func (c *Client) answer(op Operation, httpStatus int, body []byte, retryAfter string) attemptResult {
	var resp *Response
	var decodeErr error
	if len(body) > maxBodyBytes {
		decodeErr = errBodyTooLarge
	} else {
		resp, decodeErr = decodeEnvelope(body)
	}
	if is2xx(httpStatus) {
		switch {
		case decodeErr != nil:
			return attemptResult{err: &Error{Op: op, HTTPStatus: httpStatus, StatusCode: -1, Err: decodeErr}}
		case resp.StatusCode == StatusOK:
			return attemptResult{resp: resp, httpStatus: httpStatus}
		}
		return attemptResult{resp: resp, err: &Error{
			Op:         op,
			HTTPStatus: httpStatus,
			StatusCode: resp.StatusCode,
			ChatEnded:  resp.ChatEnded,
			Errors:     resp.Errors,
		}}
	}
	// A failed HTTP status: its body, when it is the envelope, explains it.
	res := attemptResult{
		err:        &Error{Op: op, HTTPStatus: httpStatus, StatusCode: -1},
		retryAfter: c.retryAfter(httpStatus, retryAfter),
	}
	if decodeErr == nil {
		res.resp = resp
		res.err.StatusCode = resp.StatusCode
		res.err.ChatEnded = resp.ChatEnded
		res.err.Errors = resp.Errors
	}
	return res
}

// errBodyTooLarge is an answer longer than maxBodyBytes.
var errBodyTooLarge = &decodeError{reason: fmt.Sprintf("body exceeds %d bytes", maxBodyBytes)}

// transportError classifies a failure to get a complete answer: the end of the caller's
// context, the attempt timeout, or a network error (withoutQuotes).
func transportError(ctx, actx context.Context, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return &stoppedError{err: ctx.Err()}
	}
	if actx.Err() != nil {
		return &timeoutError{after: timeout}
	}
	return withoutQuotes(err)
}

// decodeEnvelope parses an answer's body. The envelope must be a JSON object with a
// statusCode; unknown fields are ignored. The result does not refer to body.
func decodeEnvelope(body []byte) (*Response, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &decodeError{reason: "empty body"}
	}
	// One allocation for the envelope and its statusCode: the pointer is aimed at a field
	// of env holding an unlikely value, to tell a missing statusCode.
	env := &envelope{status: absentInt}
	env.StatusCode = &env.status
	if err := json.Unmarshal(body, env); err != nil {
		return nil, &decodeError{reason: describeJSONError(err)}
	}
	if env.status == absentInt && env.StatusCode != nil {
		// Missing, or sent as that very value: decode again, exactly.
		return decodeEnvelopeExactly(body)
	}
	if env.StatusCode == nil { // "statusCode": null
		return nil, &decodeError{reason: "no statusCode"}
	}
	resp := &env.Response
	resp.StatusCode = env.status
	return resp, nil
}

// absentInt marks an int field the JSON did not set.
const absentInt = math.MinInt

// envelope is a Response with its statusCode apart (the outer field shadows the
// Response's), to tell a missing statusCode from 0, and room for the int it points to.
type envelope struct {
	Response
	StatusCode *int `json:"statusCode"`
	status     int
}

// decodeEnvelopeExactly is decodeEnvelope without its shortcut, for the rare answer
// without a statusCode.
func decodeEnvelopeExactly(body []byte) (*Response, error) {
	resp := &Response{}
	env := struct {
		*Response
		// StatusCode shadows the Response's, to tell a missing statusCode from 0.
		StatusCode *int `json:"statusCode"`
	}{Response: resp}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, &decodeError{reason: describeJSONError(err)}
	}
	if env.StatusCode == nil {
		return nil, &decodeError{reason: "no statusCode"}
	}
	resp.StatusCode = *env.StatusCode
	return resp, nil
}

// describeJSONError describes a JSON error without quoting the body.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("JSON %s where an object was expected", typ.Value)
		}
		return fmt.Sprintf("unexpected JSON %s in %s", typ.Value, typ.Field)
	}
	return "invalid JSON"
}

// authorizedDo authorizes a request (when the client has an authorizer) and sends it, once:
// the failure, if any, is the stop of the caller's context, the authorizer's refusal, or
// the transport's error, classified.
func (c *Client) authorizedDo(ctx, actx context.Context, req *http.Request, timeout time.Duration) (*http.Response, error) {
	if c.auth != nil {
		if err := c.auth.Authorize(actx, req); err != nil {
			if ctx.Err() != nil {
				return nil, &stoppedError{err: ctx.Err()}
			}
			return nil, &authError{err: err}
		}
	}
	hr, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, actx, timeout, err)
	}
	return hr, nil
}
