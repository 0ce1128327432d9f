// Package chatrunner is the chat runner: the process that carries conversations between a
// bot (over the escalation API) and Genesys PureEngage agents (over the GMS Chat API v2).
// The operator runs it as the chat-runner subcommand of its own binary, one StatefulSet
// pod per runner.
//
// This package wires the parts together: the live view of the gateway and its Secrets
// (live), authentication and TLS towards Genesys (auth.go, transport.go), the chat engine
// (chat), the escalation API (escalation), status and events (report) and metrics. What it
// shares with the operator (names, ports, references, credential parsing) comes from
// internal/, never from the operator's packages.
package chatrunner
