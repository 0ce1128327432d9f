// Package chatstore is the contract of the durable chat store, shared by the operator
// (which creates the store objects and grants the runners access to them by name) and the
// chat runner (which writes and reads them): the names of the objects, how many there are,
// and the record of one chat with its bounds.
//
// The store of a runner ordinal is a set of shards: Secrets named <gateway>-chats-<ordinal>-<shard>,
// each holding up to ChatsPerShard chats, one data key per chat id whose value is the
// chat's Record as JSON. Secure keys are secrets, so the store is made of Secrets only.
// The chats of an ordinal have one owner at a time: whoever holds the ordinal's Lease,
// <gateway>-chats-<ordinal>.
package chatstore
