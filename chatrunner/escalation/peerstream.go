package escalation

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxFrameLineBytes bounds a line relayed from a peer's stream, as the Go client bounds
// the lines it reads.
const maxFrameLineBytes = 1 << 20

// sseFrame is one server-sent event relayed from a peer as it came.
type sseFrame struct{ id, kind, data string }

// frame writes a relayed event.
func (s *sseWriter) frame(f sseFrame) error {
	return s.send("id: " + f.id + "\nevent: " + f.kind + "\ndata: " + f.data + "\n\n")
}

// peerStream is another runner's part of the gateway-wide stream.
type peerStream struct {
	ordinal int
	body    io.ReadCloser
}

// openPeerStreams opens GET /v1/events on every other runner, as a forwarded call with
// the caller's credentials and query. A runner that does not answer with a stream fails
// them all: a gateway stream without it would miss its chats without saying so.
func (r *Router) openPeerStreams(ctx context.Context, req *http.Request, replicas int) ([]*peerStream, *problem) {
	var peers []*peerStream
	for ordinal := range replicas {
		if ordinal == r.Self {
			continue
		}
		body, err := r.openPeerStream(ctx, req, ordinal)
		if err != nil {
			for _, p := range peers {
				p.body.Close()
			}
			p := problemUnavailable.with(fmt.Sprintf("Runner %d cannot stream its chats' events (%v); retry.", ordinal, err), "")
			p.RetryAfter = streamsRetryAfter
			return nil, &p
		}
		peers = append(peers, &peerStream{ordinal: ordinal, body: body})
	}
	return peers, nil
}

// openPeerStream opens one runner's stream; the answer's headers must come within
// peerLookupTimeout, the events for as long as ctx lasts.
func (r *Router) openPeerStream(ctx context.Context, req *http.Request, ordinal int) (io.ReadCloser, error) {
	base, err := r.Resolve(ordinal)
	if err != nil {
		return nil, err
	}
	target := *base
	target.Path = strings.TrimSuffix(base.Path, "/") + "/v1/events"
	target.RawPath = ""
	target.RawQuery = req.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	out.Header.Set("Authorization", req.Header.Get("Authorization"))
	out.Header.Set("Accept", "text/event-stream")
	out.Header.Set(forwardedHeader, strconv.Itoa(r.Self))
	transport := r.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := transport.RoundTrip(out)
		answered <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-answered:
	case <-time.After(peerLookupTimeout):
		go func() { // the call goes on until ctx ends; close what it brings
			if a := <-answered; a.resp != nil {
				a.resp.Body.Close()
			}
		}()
		return nil, fmt.Errorf("no answer within %s", peerLookupTimeout)
	}
	if a.err != nil {
		return nil, a.err
	}
	if a.resp.StatusCode != http.StatusOK || !strings.HasPrefix(a.resp.Header.Get("Content-Type"), "text/event-stream") {
		a.resp.Body.Close()
		return nil, fmt.Errorf("it answered %s", a.resp.Status)
	}
	return a.resp.Body, nil
}

// relay reads the peer's events into frames until its stream ends or ctx does, then says
// so on ended. A full frames channel (a slow reader) blocks it, and so the peer: memory
// stays bounded.
func (p *peerStream) relay(ctx context.Context, frames chan<- sseFrame, ended chan<- struct{}) {
	defer func() { ended <- struct{}{} }()
	defer p.body.Close()
	sc := bufio.NewScanner(p.body)
	sc.Buffer(make([]byte, 0, 4096), maxFrameLineBytes)
	var f sseFrame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && f.data != "":
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
			f = sseFrame{}
		case strings.HasPrefix(line, "id: "):
			f.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			f.kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			f.data = strings.TrimPrefix(line, "data: ")
		}
	}
}
