// Package chatrunner is the chat runner: the process that carries conversations between a
// bot (over the escalation API) and Genesys PureEngage agents (over the GMS Chat API v2).
// The operator runs it as the chat-runner subcommand of its own binary, one StatefulSet
// pod per runner.
//
// This version serves the health probes only; the chat engine comes next.
package chatrunner
