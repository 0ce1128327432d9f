package gms

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// New connections to GMS are paced: dialBurst at once, then dialRate a second. A GMS (or a
// network) that stalls for a moment leaves the polls due meanwhile in flight, each wanting
// a connection of its own: unpaced, a runner carrying 5,000 chats opened about 2,000 new
// connections within a second of such a stall (make bench: its goroutines went from 900
// to 7,900), adding 2,000 connects, and against a real GMS as many TLS handshakes, on both
// sides just when GMS is slow. Paced, a request waiting for a connection takes one that
// comes back as the stall ends (net/http hands a returned connection to the oldest waiting
// request, whatever its own dial is doing), and the dials follow at dialRate; a GMS that
// stays slow still gets, at that rate, the connections its latency needs.
const (
	dialBurst = 64
	dialRate  = 200
)

// dialTimeout and dialKeepAlive are net/http's defaults.
const (
	dialTimeout   = 30 * time.Second
	dialKeepAlive = 30 * time.Second
)

// pacedDial returns a DialContext that waits for lim before each dial. The transport dials
// with a context of its own (not the request's), ended when its idle connections are
// closed.
func pacedDial(lim *rate.Limiter) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: dialKeepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := lim.Wait(ctx); err != nil {
			return nil, fmt.Errorf("waiting for its turn to open a connection: %w", err)
		}
		return d.DialContext(ctx, network, addr)
	}
}
