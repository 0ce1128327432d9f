// Package chat runs the life of every chat a runner carries: it requests the chat on
// Genesys, polls it on one shared schedule, relays messages both ways and keeps each chat's
// ordered events for the escalation API.
package chat
