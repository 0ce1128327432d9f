package gms

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	. "github.com/onsi/gomega"
)

func TestDecodeEnvelopeShortcutKeepsItsAnswers(t *testing.T) {
	g := NewWithT(t)
	for body, want := range map[string]string{
		`{"statusCode":null}`:                  "no statusCode",
		`{"statusCode":-9223372036854775808}`:  "",
		`{"alias":"1","messages":[]}`:          "no statusCode",
		`{"statusCode":1,"nextPosition":null}`: "",
	} {
		resp, err := decodeEnvelope([]byte(body))
		exact, exactErr := decodeEnvelopeExactly([]byte(body))
		if want != "" {
			g.Expect(err).To(MatchError(ContainSubstring(want)), body)
			g.Expect(exactErr).To(MatchError(ContainSubstring(want)), body)
			continue
		}
		g.Expect(err).NotTo(HaveOccurred(), body)
		g.Expect(resp).To(Equal(exact), body)
	}

	// The answer does not refer to the body, whose buffer goes back to the pool.
	body := []byte(`{"statusCode":0,"alias":"117","messages":[{"index":3,"type":"Message","text":"hello"}],"nextPosition":4}`)
	resp, err := decodeEnvelope(body)
	g.Expect(err).NotTo(HaveOccurred())
	copy(body, bytes.Repeat([]byte("x"), len(body)))
	g.Expect(resp.Alias).To(Equal("117"))
	g.Expect(resp.Messages[0].Text).To(Equal("hello"))
	g.Expect(*resp.NextPosition).To(Equal(4))
	g.Expect(resp.StatusCode).To(Equal(0))
}

func TestReadLimitedReadsUpToItsLimit(t *testing.T) {
	g := NewWithT(t)
	for _, n := range []int{0, 1, 511, bodyBufferSize, bodyBufferSize + 1, 10000} {
		src := strings.Repeat("a", n)
		b, err := readLimited(iotest.OneByteReader(strings.NewReader(src)), make([]byte, 0, 16), 5000)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(b)).To(Equal(src[:min(n, 5000)]), "%d bytes", n)
	}
	b, err := readLimited(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("reset"))), nil, 100)
	g.Expect(err).To(MatchError("reset"))
	g.Expect(string(b)).To(Equal("abc"))

	buf := getBodyBuffer()
	g.Expect(*buf).To(BeEmpty())
	*buf = append(*buf, "used"...)
	putBodyBuffer(buf)
	g.Expect(*getBodyBuffer()).To(BeEmpty())
}

// roundTripFunc is a transport of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAnswerBodiesStayBounded(t *testing.T) {
	g := NewWithT(t)
	for size, fails := range map[int]bool{maxBodyBytes: false, maxBodyBytes + 1: true} {
		c, err := New(Options{
			Settings: Settings{ServiceURL: "http://gms.example", ServiceName: "svc"},
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				body := `{"statusCode":0}` + strings.Repeat(" ", size-len(`{"statusCode":0}`))
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			}),
		})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = c.Refresh(context.Background(), NewSession("c1", "u1", "k", "1"), 1)
		if fails {
			g.Expect(err).To(MatchError(ContainSubstring("body exceeds")))
		} else {
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
}
