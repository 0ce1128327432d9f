package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

var _ chat.Store = (*Store)(nil)

// FieldManager is the field manager of the runner's writes to the store.
const FieldManager = "chat-runner"

// Errors of a Store besides chat.ErrStoreFull and chat.ErrNotOwner.
var (
	// ErrNoShard: the ordinal's store has no such shard (Load found fewer).
	ErrNoShard = errors.New("the chat store has no such shard")
	// ErrNoStore: the ordinal has no shard at all yet (the operator has not created it).
	ErrNoStore = errors.New("the chat store of the ordinal does not exist")
	// ErrLoaded: Load of an ordinal the Store owns already.
	ErrLoaded = errors.New("the chat store of the ordinal is loaded already")
	// ErrClosed: the Store's Run has ended.
	ErrClosed = errors.New("the chat store is closed")
)

// Observer receives the Store's metrics. Its methods are called from the writers and must
// be quick and safe for concurrent use.
type Observer interface {
	// Wrote reports one write attempt of a shard: the patch's size, and nil or its error.
	Wrote(ordinal, shard, bytes int, err error)
	// Stored reports the number of records in the owned shards, as last written or loaded.
	Stored(records int)
}

// Options configure a Store.
type Options struct {
	// Client reads and patches the shards.
	Client client.Client
	// Gateway names the shards (its namespace and name).
	Gateway *chatv1alpha1.GenesysGateway
	// Interval is the least time between two writes of a shard in steady state (a Sync
	// asks for a write sooner); DefaultInterval when 0.
	Interval time.Duration
	// Backoff paces the retries of a shard's failed writes; default 500 ms doubling to
	// 30 s, 50% jitter.
	Backoff wait.Backoff
	// Clock times the writes; clock.RealClock{} when nil.
	Clock clock.Clock
	// Log receives the Store's logs (never a record).
	Log logr.Logger
	// Observer receives metrics; nil for none.
	Observer Observer
	// OnLost is called, from a goroutine of its own, when another runner wrote a shard of
	// an owned ordinal: the Store has stopped writing it. Nil for none.
	OnLost func(ordinal int)
}

// Stats are the Store's figures for the runner's status entry.
type Stats struct {
	// Records is the number of records in the owned shards, as last written or loaded.
	Records int
	// Writes counts the successful writes, WriteErrors the failed ones.
	Writes, WriteErrors int64
	// LastError is the text of the last failed write, empty after a success. It never
	// quotes a record.
	LastError string
}

// Store is the chat store of a runner over the Kubernetes API: see the package doc.
type Store struct {
	opts Options
	log  logr.Logger
	// ctx bounds every writer; cancel ends them when Run returns.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ordinals map[int]*ordinalStore

	records     atomic.Int64
	writes      atomic.Int64
	writeErrors atomic.Int64
	lastError   atomic.Pointer[string]
}

// ordinalStore is the store of one runner ordinal while the Store owns or just lost it.
type ordinalStore struct {
	n      int
	owned  bool
	shards []*shard
	// cancel ends the ordinal's writers (and any write in flight); wg waits for them.
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// DefaultInterval paces a shard's writes in steady state. Every write rewrites the whole
// Secret (up to 320 records, with managedFields naming each key) in the API server and
// etcd, and with agents writing, every shard changes every second: at 1 s, 10,000 chats
// cost kube-apiserver and etcd 0.7 core (make bench). What a crash can lose in between is
// progress only, and costs nothing twice silently: events are derived again from the
// transcript with the same seq, and webhook events delivered since the last write are
// delivered again with the same webhook-id. What must not be lost is written before the
// bot hears of it (Sync): a new chat, a client message id.
const DefaultInterval = 3 * time.Second

// New returns a Store owning no ordinal.
func New(opts Options) *Store {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Backoff.Duration <= 0 {
		opts.Backoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.5, Cap: 30 * time.Second}
	}
	if opts.Backoff.Steps <= 0 {
		opts.Backoff.Steps = 1 << 30 // retry for ever: the values stay at Cap
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{opts: opts, log: opts.Log, ctx: ctx, cancel: cancel, ordinals: map[int]*ordinalStore{}}
}

// Run returns when ctx ends, having stopped every writer (without flushing: Flush the
// ordinals first for a graceful stop). Writers run from Load on, Run or not.
func (s *Store) Run(ctx context.Context) error {
	<-ctx.Done()
	s.mu.Lock()
	for _, o := range s.ordinals {
		s.stopLocked(o, "Closed chat store")
	}
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// shard returns a shard of an owned ordinal, or an error.
func (s *Store) shard(ordinal, index int) (*shard, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ordinals[ordinal]
	if o == nil || !o.owned {
		return nil, chat.ErrNotOwner
	}
	if index < 0 || index >= len(o.shards) {
		return nil, fmt.Errorf("%w: ordinal %d shard %d", ErrNoShard, ordinal, index)
	}
	return o.shards[index], nil
}

// Place picks the least loaded shard with room, counting the Puts not yet written. Two
// Places in the same instant may pick the same last free place: a shard's bound leaves
// room for a few more records (TestShardFitsASecret).
func (s *Store) Place(ordinal int) (int, error) {
	s.mu.Lock()
	o := s.ordinals[ordinal]
	if o == nil || !o.owned {
		s.mu.Unlock()
		return 0, chat.ErrNotOwner
	}
	shards := o.shards
	s.mu.Unlock()
	best, least := -1, chatstore.ChatsPerShard
	for i, sh := range shards {
		if n := sh.chats(); n < least {
			best, least = i, n
		}
	}
	if best < 0 {
		return 0, chat.ErrStoreFull
	}
	return best, nil
}

// Put records a chat's record, to be written by the shard's writer. A Put for an ordinal
// not owned is ignored: its chats are another runner's now.
func (s *Store) Put(ordinal, shard int, id string, record []byte) {
	if !chatstore.ValidID(id) || record == nil {
		s.log.Error(errors.New("not a chat id or no record"), "Ignored a chat record", "ordinal", ordinal, "shard", shard)
		return
	}
	sh, err := s.shard(ordinal, shard)
	if err != nil {
		s.log.V(1).Info("Ignored a chat record", "ordinal", ordinal, "shard", shard, "chat", id, "reason", err.Error())
		return
	}
	sh.change(id, record)
}

// Remove forgets a chat's record; ignored for an ordinal not owned.
func (s *Store) Remove(ordinal, shard int, id string) {
	sh, err := s.shard(ordinal, shard)
	if err != nil || !chatstore.ValidID(id) {
		return
	}
	sh.change(id, nil)
}

// Sync returns once every Put and Remove of the shard made before the call is written, or
// with the error of the write attempt meant to cover them (the writer retries), or with
// chat.ErrNotOwner once the ordinal is released or lost, or with ctx's error. It asks for a
// write now, unless the writer is backing off after a failure: then the next attempt
// answers, and ctx bounds the wait (an escalation is better refused than kept waiting).
func (s *Store) Sync(ctx context.Context, ordinal, shard int) error {
	sh, err := s.shard(ordinal, shard)
	if err != nil {
		return err
	}
	return sh.sync(ctx)
}

// Flush writes everything pending for an owned ordinal now and waits: before a graceful
// stop or hand-over (then Release).
func (s *Store) Flush(ctx context.Context, ordinal int) error {
	s.mu.Lock()
	o := s.ordinals[ordinal]
	if o == nil || !o.owned {
		s.mu.Unlock()
		return chat.ErrNotOwner
	}
	shards := o.shards
	s.mu.Unlock()
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() {
			if err := sh.sync(ctx); err != nil {
				errs[i] = fmt.Errorf("flushing shard %d of ordinal %d: %w", i, ordinal, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Release stops owning an ordinal, after Flush: what is still pending is dropped, later
// Puts and Removes are ignored and Syncs refused with chat.ErrNotOwner. It returns once
// the ordinal's writers have stopped, so nothing of ours lands after the next owner loads.
func (s *Store) Release(ordinal int) { s.release(ordinal, "Released chat store") }

// Drop is Release without a Flush, when the ordinal's Lease is lost: a write in flight is
// cancelled.
func (s *Store) Drop(ordinal int) { s.release(ordinal, "Dropped chat store") }

func (s *Store) release(ordinal int, msg string) {
	s.mu.Lock()
	o := s.ordinals[ordinal]
	if o == nil {
		s.mu.Unlock()
		return
	}
	delete(s.ordinals, ordinal)
	s.stopLocked(o, msg)
	s.mu.Unlock()
	o.wg.Wait()
}

// stopLocked stops an ordinal's writers, answers its Syncs with chat.ErrNotOwner and
// takes its records out of the count. s.mu is held.
func (s *Store) stopLocked(o *ordinalStore, msg string) {
	if !o.owned {
		return
	}
	o.owned = false
	records, pending := 0, 0
	for _, sh := range o.shards {
		r, p := sh.stop()
		records += r
		pending += p
	}
	o.cancel() // after stop: a write in flight then finds its shard stopped
	s.addRecords(-records)
	s.log.Info(msg, "ordinal", o.n, "records", records, "droppedChanges", pending)
}

// lose stops writing an ordinal another runner wrote, and reports it.
func (s *Store) lose(o *ordinalStore, shard int) {
	s.mu.Lock()
	was := o.owned
	s.stopLocked(o, "Lost chat store to another writer")
	s.mu.Unlock()
	if !was {
		return
	}
	s.log.Info("Found a chat store shard written by another runner", "ordinal", o.n, "shard", shard)
	if s.opts.OnLost != nil {
		s.wg.Go(func() { s.opts.OnLost(o.n) })
	}
}

// Stats returns the Store's figures.
func (s *Store) Stats() Stats {
	st := Stats{Records: int(s.records.Load()), Writes: s.writes.Load(), WriteErrors: s.writeErrors.Load()}
	if e := s.lastError.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

func (s *Store) addRecords(delta int) {
	n := s.records.Add(int64(delta))
	if s.opts.Observer != nil && delta != 0 {
		s.opts.Observer.Stored(int(n))
	}
}

// wrote accounts for one write attempt.
func (s *Store) wrote(ordinal, shard, bytes int, err error) {
	if err == nil {
		s.writes.Add(1)
		s.lastError.Store(nil)
	} else {
		s.writeErrors.Add(1)
		text := err.Error()
		s.lastError.Store(&text)
	}
	if s.opts.Observer != nil {
		s.opts.Observer.Wrote(ordinal, shard, bytes, err)
	}
}
