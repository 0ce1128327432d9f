// Package store keeps the durable records of a runner's chats in the Secrets of
// internal/chatstore, so chats survive the process that carries them.
//
// A Store implements chat.Store. The runner tells it which ordinals it owns (Load, once it
// holds the ordinal's Lease) and when it stops owning them (Flush and Release on a graceful
// hand-over, Drop when the Lease is lost). Every shard of an owned ordinal has one writer
// goroutine that coalesces the chats' Puts and Removes into at most about one JSON merge
// patch per Interval, sooner when a Sync asks for it; the Syncs waiting when a write starts
// all share it (group commit).
//
// A write carries the last resourceVersion the writer knows, so the API server refuses it
// (409) when the Secret changed under us. A shard whose data is still what we wrote was
// changed only in its metadata (the operator's labels), and the writer carries on; any
// other change means another runner writes the ordinal: the Store stops writing it at once
// and reports the loss (Options.OnLost). This fence keeps two owners from overwriting each
// other's chats even when the Leases briefly disagree.
//
// Records hold secure keys: neither logs, errors nor Loaded.Corrupt ever quote a record.
package store
