package gms

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestNewConnectionsArePacedAndReturnedOnesServeTheWaiting: 300 requests meet a server
// that holds every answer, as a stalled GMS would. The transport opens at most dialBurst
// connections, then dialRate a second; once the server answers, the requests still
// waiting take the connections that come back instead of each waiting for its own.
func TestNewConnectionsArePacedAndReturnedOnesServeTheWaiting(t *testing.T) {
	g := NewWithT(t)
	const requests = 300
	var opened atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	var answer sync.Once
	answerAll := func() { answer.Do(func() { close(release) }) }
	defer srv.Close()
	defer answerAll() // before the close, which waits for the answers
	tr := NewTransport()
	defer tr.CloseIdleConnections() // also ends the dials still waiting for their turn
	client := &http.Client{Transport: tr}

	start := time.Now()
	// The most connections the pacing allows by now (one token of slack for the bucket's
	// rounding).
	allowed := func() int64 {
		return dialBurst + 1 + int64(time.Since(start).Seconds()*dialRate)
	}
	var done sync.WaitGroup
	var failed atomic.Int64
	for range requests {
		done.Go(func() {
			res, err := client.Post(srv.URL, "text/plain", strings.NewReader("x"))
			if err != nil {
				failed.Add(1)
				return
			}
			_ = res.Body.Close()
		})
	}
	g.Eventually(opened.Load).Should(BeNumerically(">=", dialBurst), "the burst is dialled at once")
	g.Consistently(func() bool { return opened.Load() <= allowed() }, 200*time.Millisecond, 5*time.Millisecond).
		Should(BeTrue(), "no more connections than the pacing allows")

	answerAll()
	done.Wait()
	g.Expect(failed.Load()).To(BeZero())
	g.Expect(opened.Load()).To(BeNumerically("<=", allowed()))
	g.Expect(opened.Load()).To(BeNumerically("<", requests), "the waiting requests took returned connections")
}
