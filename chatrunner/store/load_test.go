package store_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/store"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// TestLoadReportsCorruptAndForeignRecords: unusable records are reported by key, without
// their value, and the good ones load; the corrupt ones stay untouched by later writes.
func TestLoadReportsCorruptAndForeignRecords(t *testing.T) {
	f := setup(t)
	f.shards(0, 2)
	bad := f.secret(0, 0)
	long := strings.Repeat("k", chatstore.MaxIDBytes+1)
	bad.Data = map[string][]byte{
		"r0-1": record("r0-1", 3),
		"r0-2": []byte(`{"secureKey":"hunter2-secret"`),
		"r0-3": record("r0-4", 1), // r0-4's record under r0-3
		long:   record("r0-5", 1),
	}
	f.g.Expect(admin.Update(f.ctx, bad)).To(Succeed())
	good := f.secret(0, 1)
	good.Data = map[string][]byte{"r0-6": record("r0-6", 1)}
	f.g.Expect(admin.Update(f.ctx, good)).To(Succeed())

	s := f.store(nil, nil)
	loaded, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(loaded.Shards).To(Equal(2))
	f.g.Expect(loaded.Records).To(HaveLen(2))
	f.g.Expect(loaded.Records[0].ID).To(Equal("r0-1"))
	f.g.Expect(loaded.Records[0].Shard).To(Equal(0))
	f.g.Expect(loaded.Records[0].NextSeq).To(BeEquivalentTo(3))
	f.g.Expect(loaded.Records[0].Session.SecureKey).To(Equal("secure-key-r0-1"))
	f.g.Expect(loaded.Records[1].ID).To(Equal("r0-6"))
	f.g.Expect(loaded.Records[1].Shard).To(Equal(1))
	keys := []string{}
	for _, c := range loaded.Corrupt {
		f.g.Expect(c.Shard).To(Equal(0))
		f.g.Expect(c.Err).To(HaveOccurred())
		f.g.Expect(c.Err.Error()).NotTo(ContainSubstring("hunter2"))
		keys = append(keys, c.Key)
	}
	f.g.Expect(keys).To(ConsistOf("r0-2", "r0-3", long))
	f.g.Expect(s.Stats().Records).To(Equal(5), "every key of the shards, corrupt or not")

	s.Put(0, 0, "r0-1", record("r0-1", 4))
	f.g.Expect(s.Sync(f.ctx, 0, 0)).To(Succeed())
	data := f.secret(0, 0).Data
	f.g.Expect(data).To(HaveLen(4))
	f.g.Expect(data["r0-2"]).To(Equal(bad.Data["r0-2"]))
}

func TestLoadWithoutShards(t *testing.T) {
	f := setup(t)
	_, err := f.store(nil, nil).Load(f.ctx, 3)
	f.g.Expect(err).To(MatchError(store.ErrNoStore))
}

// forbidding is a client that may not read the shards from a name on, like the runner
// whose Role names only the shards that exist.
type forbidding struct {
	client.Client
	from string
}

func (c *forbidding) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if key.Name >= c.from {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, nil)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func TestLoadStopsAtAForbiddenShard(t *testing.T) {
	f := setup(t)
	f.shards(0, 3)
	s := f.store(&forbidding{Client: admin, from: chatstore.ShardName(f.gw, 0, 2)}, nil)
	loaded, err := s.Load(f.ctx, 0)
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(loaded.Shards).To(Equal(2))
}
