package chattest

import (
	"context"
	"maps"
	"sync"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// MemStore is a chat.Store in memory, for the engine's tests: every Put is "written" at
// once; Fail makes Sync fail. The real store, over Secrets, is chatrunner/store.
type MemStore struct {
	mu      sync.Mutex
	shards  map[[2]int]map[string][]byte
	fail    error
	hold    chan struct{}
	syncs   int
	perShrd int
}

// NewMemStore returns an empty store of shards holding perShard chats each.
func NewMemStore(perShard int) *MemStore {
	return &MemStore{shards: map[[2]int]map[string][]byte{}, perShrd: perShard}
}

var _ chat.Store = (*MemStore)(nil)

// Fail makes every Sync return err (nil: succeed again).
func (s *MemStore) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// Place picks shard 0 while it has room, then 1.
func (s *MemStore) Place(ordinal int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for shard := range 2 {
		if len(s.shards[[2]int{ordinal, shard}]) < s.perShrd {
			return shard, nil
		}
	}
	return 0, chat.ErrStoreFull
}

// Put stores a record.
func (s *MemStore) Put(ordinal, shard int, id string, record []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]int{ordinal, shard}
	if s.shards[k] == nil {
		s.shards[k] = map[string][]byte{}
	}
	s.shards[k][id] = record
}

// Remove forgets a record.
func (s *MemStore) Remove(ordinal, shard int, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.shards[[2]int{ordinal, shard}], id)
}

// Hold makes every Sync wait until release is called (or its context ends), as a write
// in flight would; it then answers as Fail says at that time.
func (s *MemStore) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Sync counts, waits while held, and fails when told to.
func (s *MemStore) Sync(ctx context.Context, _, _ int) error {
	s.mu.Lock()
	s.syncs++
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail
}

// Syncs is the number of Syncs so far.
func (s *MemStore) Syncs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncs
}

// Load returns an ordinal's records, decoded, as a new owner reads them.
func (s *MemStore) Load(ordinal int) []chat.Stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chat.Stored
	for k, recs := range s.shards {
		if k[0] != ordinal {
			continue
		}
		for _, b := range recs {
			r, err := chatstore.Decode(b)
			if err != nil {
				panic(err) // the engine wrote it: a test bug
			}
			out = append(out, chat.Stored{Shard: k[1], Record: r})
		}
	}
	return out
}

// Records returns a copy of an ordinal's encoded records by chat id.
func (s *MemStore) Records(ordinal int) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	for k, recs := range s.shards {
		if k[0] == ordinal {
			maps.Copy(out, recs)
		}
	}
	return out
}
