package gms

import (
	"io"
	"sync"
)

// Answer bodies are read into pooled buffers: a poll's answer is a few hundred bytes, read
// and decoded (encoding/json copies what it keeps) before the buffer goes back.
const (
	// bodyBufferSize is a new buffer's capacity: most answers fit.
	bodyBufferSize = 2 << 10
	// maxPooledBody is the largest buffer kept: a rare large transcript does not pin
	// memory in the pool.
	maxPooledBody = 64 << 10
)

var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, bodyBufferSize)
	return &b
}}

func getBodyBuffer() *[]byte { return bodyBuffers.Get().(*[]byte) }

func putBodyBuffer(b *[]byte) {
	if cap(*b) > maxPooledBody {
		return
	}
	*b = (*b)[:0]
	bodyBuffers.Put(b)
}

// readLimited appends r's bytes to b until EOF, or until it holds limit bytes (the caller
// tells a body over its bound by a length of limit). A read error is returned with what
// was read.
func readLimited(r io.Reader, b []byte, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow, as append does
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
