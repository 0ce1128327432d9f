package escalation

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxStreamLineBytes bounds one line of an event stream: an event's data is one line of
// JSON, and the largest event (a message of MaxTextLength characters and a notice's
// bounded data, every character escaped) fits within it. A longer line ends the stream with an error instead of growing memory.
const maxStreamLineBytes = 1 << 20

// Stream reads a chat's events as server-sent events (GET /v1/chats/{id}/events with
// Accept: text/event-stream): every event with Seq > after, in order, as they happen,
// until the chat's terminal event (ended, transferred or failed). One connection replaces
// the long polls of Events.
//
// The stream lasts as long as the chat: bound it with ctx, not with the http.Client's
// Timeout, which would cut it. After a broken connection, call Stream again with the last
// Seq read: nothing is lost or repeated; resuming after the terminal event returns a
// stream that is over at once (Next returns io.EOF). An answer outside 2xx (an unknown chat, a runner
// at its stream limit) is a *Problem.
func (c *Client) Stream(ctx context.Context, id string, after int64) (*EventStream, error) {
	resp, err := c.openStream(ctx, chatPath(id)+"/events", url.Values{"after": {strconv.FormatInt(after, 10)}})
	if err != nil {
		return nil, err
	}
	// 204: resumed after the chat's terminal event; the stream is over.
	return &EventStream{reader: newSSEReader(resp.Body), over: resp.StatusCode == http.StatusNoContent}, nil
}

// EventStream is an open stream of a chat's events. It is not safe for concurrent use.
type EventStream struct {
	reader *sseReader
	// over is set once the terminal event was returned.
	over bool
}

// Next returns the next event, waiting for it. It returns io.EOF after the chat's
// terminal event, and another error when the stream broke before it (the connection, ctx,
// or the runner stopping; io.ErrUnexpectedEOF when the stream just ended): then resume
// with Stream from the last Seq read.
func (s *EventStream) Next() (Event, error) {
	if s.over {
		return Event{}, io.EOF
	}
	var e Event
	err := s.reader.next(&e)
	if errors.Is(err, io.EOF) {
		return Event{}, fmt.Errorf("escalation API: the event stream ended before the chat's last event; resume it: %w", io.ErrUnexpectedEOF)
	}
	s.over = err == nil && e.Kind.Terminal()
	return e, err
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.reader.body.Close() }

// openStream sends a stream call and checks that the answer is a stream.
func (c *Client) openStream(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("escalation API: GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/event-stream, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("escalation API: GET %s: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readProblem(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" && resp.StatusCode != http.StatusNoContent {
		resp.Body.Close()
		return nil, fmt.Errorf("escalation API: GET %s: the answer is %q, not an event stream (a runner of an older release?)", path, mt)
	}
	return resp, nil
}

// sseReader reads server-sent events: id, event and data lines up to a blank line;
// comments (heartbeats) and other fields are skipped.
type sseReader struct {
	body    io.ReadCloser
	scanner *bufio.Scanner
}

func newSSEReader(body io.ReadCloser) *sseReader {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), maxStreamLineBytes)
	return &sseReader{body: body, scanner: sc}
}

// next decodes the next event's data into v; io.EOF at the end of the stream.
func (r *sseReader) next(v any) error {
	var data strings.Builder
	has := false
	for r.scanner.Scan() {
		line := r.scanner.Text()
		switch {
		case line == "" && has:
			if err := json.Unmarshal([]byte(data.String()), v); err != nil {
				return fmt.Errorf("escalation API: decoding a streamed event: %w", err)
			}
			return nil
		case strings.HasPrefix(line, "data:"):
			if has {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			has = true
		}
	}
	if err := r.scanner.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("escalation API: a streamed line is longer than %d bytes: %w", maxStreamLineBytes, err)
		}
		return fmt.Errorf("escalation API: reading the event stream: %w", err)
	}
	return io.EOF
}

// ChatEvent is an event of the gateway-wide stream: the event and its chat.
type ChatEvent struct {
	ChatID string `json:"chatId"`
	Event
}

// StreamAll reads the events of every chat of the gateway as server-sent events (GET
// /v1/events), over one connection whichever runner carries each chat: the events of
// every chat the gateway holds (live, and ended within the runners' retention) with a
// Time after since (zero: all of them), then every new event as it happens. Events of
// one chat come in Seq order; chats interleave.
//
// The stream does not end by itself: Next returns an error when it breaks (a runner
// restarted, the gateway was scaled, ctx ended). Then call StreamAll again with since a
// little before the last event's Time (a minute covers clock skew between runners) and
// skip the events already seen, by ChatID and Seq: delivery is at least once. Bound it
// with ctx, not with the http.Client's Timeout.
func (c *Client) StreamAll(ctx context.Context, since time.Time) (*ChatEventStream, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	resp, err := c.openStream(ctx, "/v1/events", q)
	if err != nil {
		return nil, err
	}
	return &ChatEventStream{reader: newSSEReader(resp.Body)}, nil
}

// ChatEventStream is an open gateway-wide stream. It is not safe for concurrent use.
type ChatEventStream struct{ reader *sseReader }

// Next returns the next event of any chat, waiting for it; an error once the stream broke
// (io.ErrUnexpectedEOF when it just ended).
func (s *ChatEventStream) Next() (ChatEvent, error) {
	var e ChatEvent
	err := s.reader.next(&e)
	if errors.Is(err, io.EOF) {
		return ChatEvent{}, fmt.Errorf("escalation API: the gateway's event stream ended; resume it: %w", io.ErrUnexpectedEOF)
	}
	return e, err
}

// Close ends the stream.
func (s *ChatEventStream) Close() error { return s.reader.body.Close() }
