package store_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
)

// TestAnotherWriterFencesUsOut: once another runner wrote a shard, the Store stops writing
// the ordinal, reports it, and the other runner's data stays.
func TestAnotherWriterFencesUsOut(t *testing.T) {
	f := setup(t)
	f.shards(0, 2)
	lost := make(chan int, 1)
	s := f.store(nil, func(o *store.Options) {
		o.Interval = time.Hour
		o.OnLost = func(n int) { lost <- n }
	})
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())

	sec := f.secret(0, 0)
	sec.Data["r0-1"] = record("r0-1", 7) // the other runner's newer record
	sec.Data["r0-9"] = record("r0-9", 1)
	f.g.Expect(admin.Update(f.ctx, sec)).To(Succeed())

	s.Put(0, 0, "r0-1", record("r0-1", 2))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(MatchError(chat.ErrNotOwner))
	f.g.Eventually(lost).Should(Receive(Equal(0)))
	s.Put(0, 1, "r0-2", record("r0-2", 2))
	f.g.Expect(s.Sync(f.ctx, 0, 1)).To(MatchError(chat.ErrNotOwner), "the whole ordinal")
	_, err = s.Place(0)
	f.g.Expect(err).To(MatchError(chat.ErrNotOwner))
	f.g.Expect(f.secret(0, 0).Data).To(Equal(sec.Data))
	f.g.Expect(f.secret(0, 1).Data).To(BeEmpty())
	f.g.Expect(s.Stats().Records).To(BeZero())
	s.Drop(0)
}

// TestMetadataChangesAreNotAnotherWriter: the operator relabelling a shard changes its
// resourceVersion but not its data: writes go on.
func TestMetadataChangesAreNotAnotherWriter(t *testing.T) {
	f := setup(t)
	f.shards(0, 1)
	lost := make(chan int, 1)
	s := f.store(nil, func(o *store.Options) { o.OnLost = func(n int) { lost <- n } })
	_, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	s.Put(0, 0, "r0-1", record("r0-1", 1))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	for i := range 3 {
		sec := f.secret(0, 0)
		patch := client.MergeFrom(sec.DeepCopy())
		sec.Labels["relabelled"] = string(rune('a' + i))
		f.g.Expect(admin.Patch(f.ctx, sec, patch)).To(Succeed())
		s.Put(0, 0, "r0-1", record("r0-1", int64(i+2)))
		f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	}
	sec := f.secret(0, 0)
	f.g.Expect(sec.Data["r0-1"]).To(Equal(record("r0-1", 4)))
	f.g.Expect(sec.Labels).To(HaveKeyWithValue("relabelled", "c"))
	f.g.Expect(lost).NotTo(Receive())
}
