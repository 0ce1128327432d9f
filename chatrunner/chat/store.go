package chat

import (
	"context"
	"errors"
)

// Store keeps the durable records of chats (chatrunner/store implements it over the
// Secrets of internal/chatstore). The chats of a runner ordinal live in that ordinal's
// shards; the Manager puts a chat's record whenever what resuming needs changes, and the
// store coalesces the writes. Every method is safe for concurrent use and none blocks on
// the API server but Sync.
type Store interface {
	// Place picks the shard of a new chat of an ordinal (the least loaded with room), or
	// returns ErrStoreFull.
	Place(ordinal int) (shard int, err error)
	// Put records a chat's encoded record (chatstore.Encode) in its shard.
	Put(ordinal, shard int, id string, record []byte)
	// Remove forgets a chat's record.
	Remove(ordinal, shard int, id string)
	// Sync returns once every Put and Remove of the shard made before the call is
	// written (a group commit: calls in the same instant share one write), or with the
	// write's error or ctx's.
	Sync(ctx context.Context, ordinal, shard int) error
}

// Errors of a Store.
var (
	// ErrStoreFull: every shard of the ordinal holds chatstore.ChatsPerShard chats.
	ErrStoreFull = errors.New("the chat store is full")
	// ErrNotOwner: the runner does not own the ordinal's store (any more).
	ErrNotOwner = errors.New("this runner does not own the chat store")
)
