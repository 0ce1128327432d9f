// Package escalation serves the escalation API: how a bot hands a conversation to a
// Genesys agent through the runner, sends the user's side and reads the agent's side.
// JSON in and out, RFC 9457 problem details on errors, a bearer token on every call, and
// forwarding to the runner that owns a chat when the gateway runs several. A chat's
// events also stream as server-sent events (stream.go), and every chat's at once, fanned
// in from every runner (allstream.go).
package escalation
