package chatstore

import chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"

// Sizes of the store. A Secret's data may hold at most MaxSecretBytes (the API server's
// limit, 1 MiB); a shard of ChatsPerShard records of at most MaxRecordBytes each, keyed
// by ids of at most MaxIDBytes, stays below it with room to spare (TestShardFitsASecret).
const (
	// MaxSecretBytes is the API server's limit on a Secret's data.
	MaxSecretBytes = 1 << 20
	// MaxRecordBytes bounds one chat's encoded record.
	MaxRecordBytes = 3 << 10
	// MaxIDBytes bounds a chat id: "r" + ordinal + "-" + 16 hex digits is 20 at most.
	MaxIDBytes = 32
	// ChatsPerShard is how many chats one shard holds.
	ChatsPerShard = 320
	// MaxChatsPerRunner is the largest capacity of one runner the schema allows
	// (agentsPerNode x runner.maxChatsPerAgent): a store of Shards(MaxChatsPerRunner)
	// objects.
	MaxChatsPerRunner = 10000
)

// Capacity is a gateway's chats per runner: agentsPerNode x runner.maxChatsPerAgent, with
// the schema's defaults for fields left unset.
func Capacity(gw *chatv1alpha1.GenesysGateway) int {
	agents, per := int(gw.Spec.AgentsPerNode), int(gw.Spec.Runner.MaxChatsPerAgent)
	if agents <= 0 {
		agents = 3
	}
	if per <= 0 {
		per = 1000
	}
	return agents * per
}

// Shards is the number of shards a runner's store needs for a capacity: one at least.
func Shards(capacity int) int {
	capacity = min(max(capacity, 1), MaxChatsPerRunner)
	return (capacity + ChatsPerShard - 1) / ChatsPerShard
}
