package store

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// maxCandidates bounds the contents a shard may hold after writes whose outcome is
// unknown (see shard.candidates).
const maxCandidates = 8

// maxAdoptions bounds the metadata-only changes adopted in a row before a write counts as
// failed: a writer racing a busy operator backs off instead of spinning.
const maxAdoptions = 5

// shard is one Secret of an owned ordinal and its writer. Puts, Removes and Syncs change
// its pending state under mu; the writer goroutine (run) alone talks to the API server,
// so there is never more than one write in flight per shard.
type shard struct {
	store   *Store
	ordinal *ordinalStore
	index   int
	name    string
	log     logr.Logger
	// wake tells the writer that something changed (capacity 1: a wake-up is never lost
	// and never blocks).
	wake chan struct{}

	mu sync.Mutex
	// resourceVersion and content are the Secret as we last read or wrote it: content is
	// every data key (corrupt ones too) with its value.
	resourceVersion string
	content         map[string][]byte
	// pending are the changes not yet written, batch those in flight.
	pending, batch changes
	// live are the chats the shard holds once pending and batch are written: Place counts
	// them.
	live map[string]struct{}
	// waiting are the Syncs the next write answers; current those the write in flight
	// answers. Each channel has capacity 1 and is answered once.
	waiting, current []chan error
	// writing is true while a write is in flight.
	writing bool
	// last is when the last write started; retryAt is when a failed write is retried,
	// while failing.
	last     time.Time
	failing  bool
	retryAt  time.Time
	backoff  wait.Backoff
	adoption int
	// urgent asks for a write at once (a retry after adopting a metadata-only change).
	urgent bool
	// candidates are the contents the Secret may have after failed writes since the last
	// success (a timed-out write may still have been applied): finding one of them after a
	// conflict is our own write, not another runner's.
	candidates []map[string][]byte
	stopped    bool
}

func newShard(s *Store, o *ordinalStore, index int, name, resourceVersion string, content map[string][]byte) *shard {
	live := make(map[string]struct{}, len(content))
	for id := range content {
		live[id] = struct{}{}
	}
	return &shard{
		store: s, ordinal: o, index: index, name: name,
		log:             s.log.WithValues("ordinal", o.n, "shard", index, "secret", name),
		wake:            make(chan struct{}, 1),
		resourceVersion: resourceVersion,
		content:         content,
		pending:         changes{},
		live:            live,
		backoff:         s.opts.Backoff,
	}
}

// chats is the number of chats the shard holds once everything pending is written.
func (sh *shard) chats() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.live)
}

// change records a Put (record) or a Remove (nil) for the writer.
func (sh *shard) change(id string, record []byte) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stopped {
		return
	}
	sh.pending[id] = record
	if record == nil {
		delete(sh.live, id)
	} else {
		sh.live[id] = struct{}{}
	}
	sh.signal()
}

func (sh *shard) signal() {
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// sync waits for the write that covers every change made so far.
func (sh *shard) sync(ctx context.Context) error {
	ch := make(chan error, 1)
	sh.mu.Lock()
	switch {
	case sh.stopped:
		sh.mu.Unlock()
		return chat.ErrNotOwner
	case len(sh.pending) > 0:
		sh.waiting = append(sh.waiting, ch)
		sh.signal()
	case sh.writing:
		// Everything so far is in the write in flight: its outcome answers.
		sh.current = append(sh.current, ch)
	default:
		sh.mu.Unlock()
		return nil
	}
	sh.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the shard's writing: the Syncs waiting are refused, the pending changes
// dropped. It returns the records the shard held and the changes it dropped.
func (sh *shard) stop() (records, dropped int) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stopped {
		return 0, 0
	}
	sh.stopped = true
	answer(sh.waiting, chat.ErrNotOwner)
	answer(sh.current, chat.ErrNotOwner)
	sh.waiting, sh.current = nil, nil
	dropped = len(sh.pending)
	sh.pending = changes{}
	sh.signal()
	return len(sh.content), dropped
}

func answer(chs []chan error, err error) {
	for _, ch := range chs {
		ch <- err
	}
}

// dueLocked returns when the next write is due, if one is.
func (sh *shard) dueLocked(now time.Time) (time.Time, bool) {
	switch {
	case len(sh.pending) == 0 && len(sh.waiting) == 0:
		return time.Time{}, false
	case sh.failing:
		return sh.retryAt, true
	case sh.urgent || len(sh.waiting) > 0:
		return now, true
	default:
		return sh.last.Add(sh.store.opts.Interval), true
	}
}

// run is the shard's writer: it writes the pending changes when due, until the shard
// stops or ctx ends.
func (sh *shard) run(ctx context.Context) {
	clk := sh.store.opts.Clock
	for {
		sh.mu.Lock()
		if sh.stopped {
			sh.mu.Unlock()
			return
		}
		now := clk.Now()
		due, ok := sh.dueLocked(now)
		if ok && !now.Before(due) {
			sh.beginLocked(now)
			sh.mu.Unlock()
			sh.write(ctx)
			continue
		}
		sh.mu.Unlock()
		var fire <-chan time.Time
		var timer interface{ Stop() bool }
		if ok {
			t := clk.NewTimer(due.Sub(now))
			timer, fire = t, t.C()
		}
		select {
		case <-ctx.Done():
		case <-sh.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return // stopped by Store.stopLocked, which cancels ctx after stopping the shard
		}
	}
}

// beginLocked takes the pending changes and the waiting Syncs into a write.
func (sh *shard) beginLocked(now time.Time) {
	sh.batch = sh.pending.effective(sh.content)
	sh.pending = changes{}
	sh.current, sh.waiting = sh.waiting, nil
	sh.writing = true
	sh.urgent = false
	sh.last = now
}
