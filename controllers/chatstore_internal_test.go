package controllers

import (
	"maps"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

func TestPlanStores(t *testing.T) {
	empty := func(o, s int) storeShard { return storeShard{ordinal: o, shard: s} }
	full := func(o, s int) storeShard { return storeShard{ordinal: o, shard: s, holdsChats: true} }
	cases := []struct {
		name        string
		live, nShrd int
		observed    []storeShard
		keep        map[int]int
		deleted     []storeShard // in deletion order
	}{
		{name: "nothing yet: every live ordinal gets its shards", live: 2, nShrd: 3,
			keep: map[int]int{0: 3, 1: 3}},
		{name: "all there", live: 2, nShrd: 1, observed: []storeShard{empty(0, 0), full(1, 0)},
			keep: map[int]int{0: 1, 1: 1}},
		{name: "scale-down: empty orphans go, highest shard first", live: 1, nShrd: 2,
			observed: []storeShard{empty(0, 0), empty(0, 1), empty(1, 0), empty(1, 1), empty(2, 0), empty(2, 1)},
			keep:     map[int]int{0: 2},
			deleted:  []storeShard{empty(1, 1), empty(1, 0), empty(2, 1), empty(2, 0)}},
		{name: "scale-down: an orphan holding chats keeps its shards up to the last that holds some", live: 1, nShrd: 3,
			observed: []storeShard{empty(0, 0), empty(0, 1), empty(0, 2), empty(1, 0), full(1, 1), empty(1, 2), full(2, 0), empty(2, 1), empty(2, 2)},
			keep:     map[int]int{0: 3, 1: 2, 2: 1},
			deleted:  []storeShard{empty(1, 2), empty(2, 2), empty(2, 1)}},
		{name: "lower capacity: shards beyond it go once empty, never below one that holds chats", live: 1, nShrd: 1,
			observed: []storeShard{empty(0, 0), empty(0, 1), full(0, 2), empty(0, 3), empty(0, 4)},
			keep:     map[int]int{0: 3},
			deleted:  []storeShard{empty(0, 4), empty(0, 3)}},
		{name: "not deployed: only stores holding chats stay", live: 0, nShrd: 10,
			observed: []storeShard{full(0, 0), empty(1, 0)},
			keep:     map[int]int{0: 1},
			deleted:  []storeShard{empty(1, 0)}},
		{name: "a gap below a shard holding chats is kept, to be filled", live: 0, nShrd: 1,
			observed: []storeShard{full(3, 2)},
			keep:     map[int]int{3: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keep := planStores(c.live, c.nShrd, c.observed)
			if !maps.Equal(keep, c.keep) {
				t.Fatalf("keep %v, want %v", keep, c.keep)
			}
			if got := shardsToDelete(keep, c.observed); !slices.Equal(got, c.deleted) {
				t.Fatalf("deleted %v, want %v", got, c.deleted)
			}
		})
	}
}

func TestHoldsChats(t *testing.T) {
	for v, want := range map[string]bool{"0": false, "\t0\t": false, "5": true, "-1": true, "many": true, "": true} {
		if got := holdsChats(map[string]string{chatstore.AnnotationChats: v}); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
	if holdsChats(nil) || holdsChats(map[string]string{"other": "3"}) {
		t.Error("a shard without the annotation holds no chats")
	}
}

func TestStoreNamesAndOrdinals(t *testing.T) {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
	keep := map[int]int{2: 1, 0: 2}
	names := storeNames(gw, keep)
	if want := []string{"acme-chats-0-0", "acme-chats-0-1", "acme-chats-2-0"}; !slices.Equal(names.Shards, want) {
		t.Fatalf("shards %v, want %v", names.Shards, want)
	}
	if want := []string{"acme-chats-0", "acme-chats-2"}; !slices.Equal(names.Leases, want) {
		t.Fatalf("leases %v, want %v", names.Leases, want)
	}
	if got := storeOrdinals(keep); !slices.Equal(got, []int32{0, 2}) {
		t.Fatalf("ordinals %v", got)
	}
	for name, want := range map[string]int{"acme-chats-0": 0, "acme-chats-12": 12} {
		if o, ok := leaseOrdinal(gw, name); !ok || o != want {
			t.Errorf("%s: %d %v", name, o, ok)
		}
	}
	for _, bad := range []string{"acme-chats-01", "acme-chats-1-0", "acme-chats-", "other-chats-1", "acme-chats--1"} {
		if _, ok := leaseOrdinal(gw, bad); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestStoreEvents(t *testing.T) {
	gw := &chatv1alpha1.GenesysGateway{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "ns", UID: "u"}}
	shard := func(chats string) *metav1.PartialObjectMetadata {
		obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "acme-chats-0-0",
			Labels:          map[string]string{chatstore.LabelStore: chatstore.StoreValue},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(gw, chatv1alpha1.GroupVersion.WithKind("GenesysGateway"))},
		}}
		if chats != "" {
			obj.Annotations = map[string]string{chatstore.AnnotationChats: chats}
		}
		return obj
	}
	reqs := storeOwner(t.Context(), shard("1"))
	if len(reqs) != 1 || reqs[0].Namespace != "ns" || reqs[0].Name != "acme" {
		t.Fatalf("mapped to %v", reqs)
	}
	foreign := shard("1")
	foreign.Labels = nil
	if reqs := storeOwner(t.Context(), foreign); len(reqs) != 0 {
		t.Fatalf("an object without the store label mapped to %v", reqs)
	}

	p := storeChanged{}
	for _, c := range []struct {
		name     string
		old, new *metav1.PartialObjectMetadata
		want     bool
	}{
		{"a chat more", shard("4"), shard("5"), false},
		{"the first chat", shard("0"), shard("1"), true},
		{"the first chat of a new shard", shard(""), shard("1"), true},
		{"the last chat", shard("1"), shard("0"), true},
		{"a record rewritten", shard("1"), shard("1"), false},
		{"relabelled", shard("1"), func() *metav1.PartialObjectMetadata { s := shard("1"); s.Labels["x"] = "y"; return s }(), true},
		{"not a store object", foreign, foreign, false},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !p.Create(event.CreateEvent{Object: shard("")}) || !p.Delete(event.DeleteEvent{Object: shard("")}) || p.Create(event.CreateEvent{Object: foreign}) {
		t.Error("creations and deletions of store objects pass, others do not")
	}
}

func TestChatStoresInStatus(t *testing.T) {
	gw := &chatv1alpha1.GenesysGateway{}
	gw.Status.ChatStores = []int32{0, 1, 2}
	updateStatus(&scope{gateway: gw})
	if !slices.Equal(gw.Status.ChatStores, []int32{0, 1, 2}) {
		t.Fatalf("unobserved stores changed: %v", gw.Status.ChatStores)
	}
	updateStatus(&scope{gateway: gw, storesObserved: true, chatStores: []int32{0, 2}})
	if !slices.Equal(gw.Status.ChatStores, []int32{0, 2}) {
		t.Fatalf("%v", gw.Status.ChatStores)
	}
	updateStatus(&scope{gateway: gw, storesObserved: true})
	if gw.Status.ChatStores != nil {
		t.Fatalf("no store: %v", gw.Status.ChatStores)
	}
}
