package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// TestPutsCoalesce: 500 Puts in a burst are a few writes, not 500, and the last Put of
// each chat wins.
func TestPutsCoalesce(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := f.store(nil, nil)
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	start := f.secret(0, 0).ResourceVersion

	for i := range 500 {
		s.Put(0, 0, fmt.Sprintf("r0-%d", i%50), record(fmt.Sprintf("r0-%d", i%50), int64(i+1)))
	}
	f.g.Eventually(func() map[string][]byte { return f.secret(0, 0).Data }).Should(HaveLen(50))
	f.g.Eventually(func() []byte { return f.secret(0, 0).Data["r0-49"] }).Should(Equal(record("r0-49", 500)))
	f.g.Expect(f.secret(0, 0).Data["r0-0"]).To(Equal(record("r0-0", 451)))
	f.g.Expect(f.secret(0, 0).Annotations).To(HaveKeyWithValue(chatstore.AnnotationChats, "50"))
	f.g.Expect(f.obs.Writes()).To(BeNumerically("<=", 3), "500 Puts within an interval")
	f.g.Expect(f.secret(0, 0).ResourceVersion).NotTo(Equal(start))
	f.g.Expect(s.Stats()).To(Equal(store.Stats{Records: 50, Writes: int64(f.obs.Writes())}))
}

// TestSyncsShareWrites: 100 concurrent Syncs after their Puts all return once their chat
// is written, in far fewer than 100 writes.
func TestSyncsShareWrites(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := f.store(nil, func(o *store.Options) { o.Interval = time.Hour }) // only Syncs write
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())

	var wg sync.WaitGroup
	errs := make([]error, 100)
	for i := range 100 {
		wg.Go(func() {
			id := fmt.Sprintf("r0-%d", i)
			s.Put(0, 0, id, record(id, 1))
			errs[i] = s.Sync(f.ctx, 0, 0)
		})
	}
	wg.Wait()
	for _, err := range errs {
		f.g.Expect(err).NotTo(HaveOccurred())
	}
	sec := f.secret(0, 0)
	f.g.Expect(sec.Data).To(HaveLen(100))
	f.g.Expect(sec.Annotations).To(HaveKeyWithValue(chatstore.AnnotationChats, "100"))
	f.g.Expect(f.obs.Writes()).To(BeNumerically("<", 20), "group commit")
	t.Logf("100 Syncs took %d writes", f.obs.Writes())
	f.g.Expect(sec.ManagedFields).To(ContainElement(HaveField("Manager", store.FieldManager)))
}

func TestRemoveDeletesTheKey(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := f.store(nil, nil)
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	s.Remove(0, 0, "r0-1")
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	sec := f.secret(0, 0)
	f.g.Expect(sec.Data).To(HaveKey("r0-2"))
	f.g.Expect(sec.Data).NotTo(HaveKey("r0-1"))
	f.g.Expect(sec.Annotations).To(HaveKeyWithValue(chatstore.AnnotationChats, "1"))
	f.g.Expect(s.Stats().Records).To(Equal(1))
}

// TestPlace: the least loaded shard with room, counting Puts not yet written; full when
// every shard holds ChatsPerShard chats.
func TestPlace(t *testing.T) {
	f := setup(t)
	f.shards(0, 2)
	s := f.store(nil, func(o *store.Options) { o.Interval = time.Hour })
	_, err := s.Place(0)
	f.g.Expect(err).To(MatchError(chat.ErrNotOwner))
	_, err = s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	for i := range 2 * chatstore.ChatsPerShard {
		shard, err := s.Place(0)
		f.g.Expect(err).NotTo(HaveOccurred())
		f.g.Expect(shard).To(Equal(i%2), "least loaded")
		s.Put(0, shard, fmt.Sprintf("r0-%d", i), record(fmt.Sprintf("r0-%d", i), 1))
	}
	_, err = s.Place(0)
	f.g.Expect(err).To(MatchError(chat.ErrStoreFull))
	s.Remove(0, 1, "r0-1")
	f.g.Expect(s.Place(0)).To(Equal(1))
}

// TestFullStoreLoadsBackIntact: a runner's largest store, MaxChatsPerRunner chats of
// MaxRecordBytes under the longest ids, shards filled to ChatsPerShard, is accepted by the
// API server and loads back intact in another Store.
func TestFullStoreLoadsBackIntact(t *testing.T) {
	f := setup(t)
	n := chatstore.Shards(chatstore.MaxChatsPerRunner)
	f.shards(0, n)
	s := f.store(nil, nil)
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	want := map[string][]byte{}
	for i := range chatstore.MaxChatsPerRunner {
		id := longID(0, i)
		want[id] = largest(id)
		s.Put(0, i/chatstore.ChatsPerShard, id, want[id])
	}
	f.g.Expect(s.Flush(f.ctx, 0)).To(Succeed())
	f.g.Expect(s.Stats().Records).To(Equal(chatstore.MaxChatsPerRunner))
	f.g.Expect(f.secret(0, 0).Annotations).To(HaveKeyWithValue(chatstore.AnnotationChats, strconv.Itoa(chatstore.ChatsPerShard)))
	f.g.Expect(s.Place(0)).To(Equal(n - 1))
	s.Release(0)

	other := f.store(nil, nil)
	loaded, err := other.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(loaded.Shards).To(Equal(n))
	f.g.Expect(loaded.Corrupt).To(BeEmpty())
	f.g.Expect(loaded.Records).To(HaveLen(chatstore.MaxChatsPerRunner))
	for _, r := range loaded.Records {
		b, err := chatstore.Encode(r.Record)
		f.g.Expect(err).NotTo(HaveOccurred())
		f.g.Expect(b).To(Equal(want[r.ID]))
		f.g.Expect(r.Shard).To(Equal(int(mustIndex(r.ID)) / chatstore.ChatsPerShard))
	}
}

func mustIndex(id string) int64 {
	n, err := strconv.ParseInt(id[3:], 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// TestSyncReportsTheWriteError: a write the API server refuses (the shard was deleted)
// fails the Syncs meant to be covered by it, and the writer keeps retrying.
func TestSyncReportsTheWriteError(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := f.store(nil, nil)
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(admin.Delete(f.ctx, f.secret(0, 0))).To(Succeed())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	err = s.Sync(f.ctx, 0, 0)
	f.g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
	f.g.Expect(s.Stats().LastError).To(ContainSubstring("not found"))
	f.g.Expect(s.Stats().LastError).NotTo(ContainSubstring("secure-key"))
	f.g.Eventually(f.obs.Errors).Should(BeNumerically(">=", 3), "retried")
	ctx, cancel := context.WithTimeout(f.ctx, 50*time.Millisecond)
	defer cancel()
	err = s.Sync(ctx, 0, 0)
	f.g.Expect(err).To(HaveOccurred()) // the next attempt's error, or ctx's
}

// TestFailedWritesAreRetried: writes failing (API server unavailable) keep their changes
// and the Syncs get the error; once the API server is back, the changes are written.
func TestFailedWritesAreRetried(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	c := &faulty{Client: admin}
	s := f.store(c, nil)
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	unavailable := apierrors.NewServiceUnavailable("down")
	c.set(func() (error, bool) { return unavailable, false })
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(unavailable))
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	f.g.Eventually(f.obs.Errors).Should(BeNumerically(">=", 3))
	c.set(nil)
	f.g.Eventually(func() error { return s.Sync(f.ctx, 0, 0) }).Should(Succeed())
	f.g.Expect(f.secret(0, 0).Data).To(HaveLen(2))
	f.g.Expect(s.Stats().LastError).To(BeEmpty())
}

// TestTimedOutWriteThatLandedIsOurs: a write whose reply was lost but which the API server
// applied makes the next write conflict; the shard then holds what that write would make
// it, which is ours: no loss.
func TestTimedOutWriteThatLandedIsOurs(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	c := &faulty{Client: admin}
	lost := make(chan int, 1)
	s := f.store(c, func(o *store.Options) { o.OnLost = func(n int) { lost <- n } })
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	var once sync.Once
	c.set(func() (error, bool) {
		var err error
		once.Do(func() { err = context.DeadlineExceeded })
		return err, true
	})
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(context.DeadlineExceeded))
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	f.g.Eventually(func() error { return s.Sync(f.ctx, 0, 0) }).Should(Succeed())
	f.g.Expect(f.secret(0, 0).Data).To(HaveLen(2))
	f.g.Expect(lost).NotTo(Receive())
}

// TestFlushThenRelease: Flush writes what is pending at once; after Release the ordinal's
// Puts are ignored and its Syncs refused, and another runner loads what was flushed.
func TestFlushThenRelease(t *testing.T) {
	f := setup(t)
	f.shards(0, 2)
	s := f.store(nil, func(o *store.Options) { o.Interval = time.Hour })
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed()) // the first write; the next waits an hour
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	s.Put(0, 1, "r0-3", record("r0-3", 1))
	f.g.Expect(s.Flush(f.ctx, 0)).To(Succeed())
	f.g.Expect(f.secret(0, 0).Data).To(HaveLen(2))
	f.g.Expect(f.secret(0, 1).Data).To(HaveLen(1))

	s.Release(0)
	f.g.Expect(s.Stats().Records).To(BeZero())
	s.Put(0, 0, "r0-4", record("r0-4", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(chat.ErrNotOwner))
	f.g.Expect(s.Flush(f.ctx, 0)).To(MatchError(chat.ErrNotOwner))
	_, err = s.Place(0)
	f.g.Expect(err).To(MatchError(chat.ErrNotOwner))

	loaded, err := f.store(nil, nil).Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(loaded.Records).To(HaveLen(3))
}

// TestDropDropsWhatIsPending: a Drop (lease lost) writes nothing more.
func TestDropDropsWhatIsPending(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := f.store(nil, func(o *store.Options) { o.Interval = time.Hour })
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	rv := f.secret(0, 0).ResourceVersion
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	s.Drop(0)
	f.g.Expect(f.secret(0, 0).ResourceVersion).To(Equal(rv))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(chat.ErrNotOwner))
	_, err = s.Load(f.ctx, 0) // owning it again
	f.g.Expect(err).NotTo(HaveOccurred())
	_, err = s.Load(f.ctx, 0)
	f.g.Expect(err).To(MatchError(store.ErrLoaded))
}

// TestIntervalPacesWrites: with a fake clock, a first Put is written at once, later ones
// only once the interval has passed since.
func TestIntervalPacesWrites(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	clk := clocktesting.NewFakeClock(time.Now())
	s := f.store(nil, func(o *store.Options) { o.Clock = clk })
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Eventually(f.obs.Writes).Should(Equal(1))
	s.Put(0, 0, "r0-2", record("r0-2", 1))
	f.g.Eventually(clk.HasWaiters).Should(BeTrue()) // the writer waits for the interval
	f.g.Consistently(f.obs.Writes, 200*time.Millisecond).Should(Equal(1))
	clk.Step(999 * time.Millisecond)
	f.g.Consistently(f.obs.Writes, 100*time.Millisecond).Should(Equal(1))
	clk.Step(time.Millisecond)
	f.g.Eventually(f.obs.Writes).Should(Equal(2))
	f.g.Expect(f.secret(0, 0).Data).To(HaveLen(2))
	// A Sync does not wait for the interval.
	s.Put(0, 0, "r0-3", record("r0-3", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	f.g.Expect(f.obs.Writes()).To(Equal(3))
}

// TestRunEndsEveryWriter: after Run's ctx ends, Syncs are refused and Load closed.
func TestRunEndsEveryWriter(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	s := store.New(store.Options{Client: admin, Gateway: f.gw})
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	f.g.Expect(s.Run(ctx)).To(Succeed()) // returns: every writer ended
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(chat.ErrNotOwner))
	_, err = s.Load(f.ctx, 0)
	f.g.Expect(errors.Is(err, store.ErrClosed)).To(BeTrue())
}

// TestWritesAreAnsweredWithMetadataOnly: a write of a shard holding 200 KiB of records
// reads back the shard's metadata, not the whole Secret.
func TestWritesAreAnsweredWithMetadataOnly(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	var patched, answered atomic.Int64
	rc := rest.CopyConfig(cfg)
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && req.Method == http.MethodPatch {
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(b))
				patched.Add(1)
				answered.Add(int64(len(b)))
			}
			return resp, err
		})
	}
	c, err := client.New(rc, client.Options{Scheme: scheme.New()})
	f.g.Expect(err).NotTo(HaveOccurred())
	s := f.store(c, nil)
	_, err = s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	for i := range 200 {
		id := longID(0, i)
		s.Put(0, 0, id, largest(id))
	}
	f.g.Expect(s.Flush(f.ctx, 0)).To(Succeed())
	s.Put(0, 0, "r0-x", record("r0-x", 1))
	f.g.Expect(s.Flush(f.ctx, 0)).To(Succeed())
	f.g.Expect(f.secret(0, 0).Data).To(HaveLen(201))
	f.g.Expect(f.secret(0, 0).Data["r0-x"]).To(Equal(record("r0-x", 1)))
	f.g.Expect(patched.Load()).To(BeNumerically(">=", 2))
	f.g.Expect(answered.Load()/patched.Load()).To(BeNumerically("<", 64<<10), "metadata only (managedFields name every key), not the shard's 600 KiB")
	f.g.Expect(s.Stats().Records).To(Equal(201))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
