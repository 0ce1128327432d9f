package chatstore

import (
	"fmt"
	"strconv"
	"strings"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
)

// Labels and annotations of the store objects.
const (
	// LabelOrdinal is the runner ordinal whose chats a shard or Lease holds.
	LabelOrdinal = "chat.gatewayops.io/ordinal"
	// LabelStore marks the store's Secrets and Leases, with value StoreValue.
	LabelStore = "chat.gatewayops.io/store"
	// StoreValue is the value of LabelStore.
	StoreValue = "chats"
	// AnnotationChats on a shard is the number of chat records it holds, written by the
	// runner with every write: the operator reads it from the object's metadata (never
	// its data) to remove the store of a removed runner once it is empty.
	AnnotationChats = "chat.gatewayops.io/chats"
	// AnnotationHandback on an ordinal's Lease names the pod that asks for the ordinal's
	// chats back: the ordinal's own runner, started again while a peer holds them.
	AnnotationHandback = "chat.gatewayops.io/handback-to"
)

// LeaseName names the Lease whose holder owns the chats of a runner ordinal.
func LeaseName(gw *chatv1alpha1.GenesysGateway, ordinal int) string {
	return fmt.Sprintf("%s-chats-%d", gw.Name, ordinal)
}

// ShardName names one Secret of a runner ordinal's store.
func ShardName(gw *chatv1alpha1.GenesysGateway, ordinal, shard int) string {
	return fmt.Sprintf("%s-chats-%d-%d", gw.Name, ordinal, shard)
}

// ShardNames names every shard of a runner ordinal's store, for the gateway's current
// capacity.
func ShardNames(gw *chatv1alpha1.GenesysGateway, ordinal int) []string {
	n := Shards(Capacity(gw))
	out := make([]string, n)
	for s := range n {
		out[s] = ShardName(gw, ordinal, s)
	}
	return out
}

// ParseShardName returns the ordinal and shard of a shard's name, for a gateway.
func ParseShardName(gw *chatv1alpha1.GenesysGateway, name string) (ordinal, shard int, ok bool) {
	rest, found := strings.CutPrefix(name, gw.Name+"-chats-")
	if !found {
		return 0, 0, false
	}
	o, s, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	ordinal, err1 = strconv.Atoi(o)
	shard, err2 = strconv.Atoi(s)
	if err1 != nil || err2 != nil || ordinal < 0 || shard < 0 || strconv.Itoa(ordinal) != o || strconv.Itoa(shard) != s {
		return 0, 0, false
	}
	return ordinal, shard, true
}
