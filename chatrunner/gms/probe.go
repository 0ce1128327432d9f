package gms

import (
	"context"
	"net/url"
)

// ProbeChatID names no chat: a Refresh Chat of it costs GMS one lookup and creates nothing.
const ProbeChatID = "gateway-probe"

// Probe asks GMS once (no retry: the caller probes again) for a Refresh Chat of a chat
// that does not exist, with a made-up session. GMS answers it like any call on an unknown
// chat: HTTP 200 with statusCode 2 (Chat Server's "chat not found"; the simulator answers
// error 8201, an assumption for real GMS). Such an answer shows that the service URL
// resolves, the connection and TLS (with the gateway's CA and client certificate) work,
// the credentials pass (a proxy or GMS refuses them with 401 or 403; an Entra ID token is
// obtained first) and that GMS serves the gateway's context path and service name (a wrong
// one is a 404). It is the cheapest call a real GMS or its proxy answers without creating a
// chat, and it sends no secret but the gateway's own credentials. It returns nil when GMS
// answered so, else the *Error; statusCode 1 (GMS cannot serve now) is a failure too.
func (c *Client) Probe(ctx context.Context) error {
	cfg := c.cfg.Load()
	endpoint, err := cfg.endpoint(OpRefresh, ProbeChatID)
	if err != nil {
		return err
	}
	form := sessionForm(NewSession(ProbeChatID, "probe", "probe", "0"), url.Values{})
	a := c.attempt(ctx, cfg, OpRefresh, endpoint, form.Encode())
	switch {
	case a.err == nil:
		return nil
	case is2xx(a.err.HTTPStatus) && a.err.StatusCode == StatusUnrecoverable:
		return nil // GMS' verdict on the made-up chat: it answered
	}
	a.err.Attempts = 1
	return a.err
}
