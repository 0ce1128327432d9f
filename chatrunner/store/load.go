package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// Loaded is what Load found in an ordinal's store.
type Loaded struct {
	Ordinal int
	// Shards is the number of shards of the store.
	Shards int
	// Records are the good records, by shard then id.
	Records []Record
	// Corrupt are the keys whose record could not be used; they stay in the store
	// untouched (and count against their shard's room).
	Corrupt []Corrupt
}

// Record is one chat's record and the shard holding it.
type Record struct {
	Shard int
	chatstore.Record
}

// Corrupt is a data key of a shard that holds no usable record: not a chat id, not a
// record, or the record of another chat. Err never quotes the value.
type Corrupt struct {
	Shard int
	Key   string
	Err   error
}

// errForeign: a record stored under another chat's id.
var errForeign = errors.New("the record belongs to another chat id")

// Load reads the store of an ordinal the runner now owns (it holds the ordinal's Lease):
// shards 0, 1, ... until one does not exist (NotFound, or Forbidden since the runner may
// read only the names it is granted). Unusable records are reported, never fatal. From
// then on the Store writes the ordinal's shards, fenced by what it read.
func (s *Store) Load(ctx context.Context, ordinal int) (Loaded, error) {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return Loaded{}, ErrClosed
	}
	old := s.ordinals[ordinal]
	s.mu.Unlock()
	if old != nil {
		if old.isOwned(s) {
			return Loaded{}, fmt.Errorf("%w: ordinal %d", ErrLoaded, ordinal)
		}
		old.wg.Wait() // lost: its writers are ending
	}

	var secrets []corev1.Secret
	for i := range chatstore.Shards(chatstore.MaxChatsPerRunner) {
		var sec corev1.Secret
		key := client.ObjectKey{Namespace: s.opts.Gateway.Namespace, Name: chatstore.ShardName(s.opts.Gateway, ordinal, i)}
		err := s.opts.Client.Get(ctx, key, &sec)
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			break
		}
		if err != nil {
			return Loaded{}, fmt.Errorf("reading chat store shard %s: %w", key.Name, err)
		}
		secrets = append(secrets, sec)
	}
	if len(secrets) == 0 {
		return Loaded{}, fmt.Errorf("%w: ordinal %d", ErrNoStore, ordinal)
	}

	loaded := Loaded{Ordinal: ordinal, Shards: len(secrets)}
	for i, sec := range secrets {
		records, corrupt := decodeShard(i, sec.Data)
		loaded.Records = append(loaded.Records, records...)
		loaded.Corrupt = append(loaded.Corrupt, corrupt...)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return Loaded{}, ErrClosed
	}
	if o := s.ordinals[ordinal]; o != nil && o != old {
		return Loaded{}, fmt.Errorf("%w: ordinal %d", ErrLoaded, ordinal)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	o := &ordinalStore{n: ordinal, owned: true, cancel: cancel}
	records := 0
	for i, sec := range secrets {
		content := sec.Data
		if content == nil {
			content = map[string][]byte{}
		}
		records += len(content)
		o.shards = append(o.shards, newShard(s, o, i, sec.Name, sec.ResourceVersion, content))
	}
	s.ordinals[ordinal] = o
	for _, sh := range o.shards {
		o.wg.Add(1)
		s.wg.Go(func() {
			defer o.wg.Done()
			sh.run(ctx)
		})
	}
	s.addRecords(records)
	s.log.Info("Loaded chat store", "ordinal", ordinal, "shards", len(secrets), "records", len(loaded.Records), "corrupt", len(loaded.Corrupt))
	for _, c := range loaded.Corrupt {
		s.log.Error(c.Err, "Skipped a corrupt chat record", "ordinal", ordinal, "shard", c.Shard, "key", c.Key)
	}
	return loaded, nil
}

func (o *ordinalStore) isOwned(s *Store) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return o.owned
}

// decodeShard sorts a shard's data into good records and corrupt keys, by key.
func decodeShard(shard int, data map[string][]byte) ([]Record, []Corrupt) {
	var records []Record
	var corrupt []Corrupt
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	for _, k := range keys {
		if !chatstore.ValidID(k) {
			corrupt = append(corrupt, Corrupt{Shard: shard, Key: k, Err: errors.New("the key is not a chat id")})
			continue
		}
		r, err := chatstore.Decode(data[k])
		if err == nil && r.ID != k {
			err = errForeign
		}
		if err != nil {
			corrupt = append(corrupt, Corrupt{Shard: shard, Key: k, Err: err})
			continue
		}
		records = append(records, Record{Shard: shard, Record: r})
	}
	return records, corrupt
}
