// Package report tells the cluster what a chat runner does: it writes the runner's own
// entry of its GenesysGateway's status.runners, and records chat transitions as events on
// the gateway. Neither ever carries a Genesys secure key.
package report
