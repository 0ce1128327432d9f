package gms_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gms"
)

// cannedTransport answers every request with the same body, without a network: what it
// allocates is the same before and after a change of the client.
type cannedTransport struct{ body []byte }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Request:       r,
	}, nil
}

// BenchmarkRefreshClientSide is the client's own cost of one Refresh (request building,
// cookie jar, retry loop, reading and decoding the answer), on a transport that answers
// at once: an empty transcript delta, or one with two messages.
func BenchmarkRefreshClientSide(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"empty", `{"statusCode":0,"chatId":"c1","userId":"u1","alias":"117","chatEnded":false,"messages":[],"nextPosition":5}`},
		{"messages", `{"statusCode":0,"chatId":"c1","alias":"117","messages":[` +
			`{"from":{"nickname":"Ann","participantId":2,"type":"Agent"},"index":5,"type":"Message","utcTime":1700000000000,"text":"Hello, how can I help?"},` +
			`{"from":{"nickname":"Ann","participantId":2,"type":"Agent"},"index":6,"type":"TypingStopped","utcTime":1700000000001}],"nextPosition":7}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := gms.New(gms.Options{
				Settings:  gms.Settings{ServiceURL: "http://gms.example:8080", ServiceName: "customer-support", Retry: gms.RetryPolicy{MaxAttempts: 3}},
				Transport: cannedTransport{body: []byte(tc.body)},
			})
			if err != nil {
				b.Fatal(err)
			}
			s := gms.NewSession("c1", "u1", "s3cr3t-key", "117")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Refresh(ctx, s, 5)
				if err != nil || resp.StatusCode != 0 || strings.Contains(tc.name, "messages") && len(resp.Messages) != 2 {
					b.Fatalf("refresh: %v %+v", err, resp)
				}
			}
		})
	}
}
