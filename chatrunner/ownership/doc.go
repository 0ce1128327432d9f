// Package ownership decides which runner owns the chats of each runner ordinal, so that
// chats survive their runner.
//
// Each ordinal k with a chat store has one Lease, chatstore.LeaseName(gw, k), that the
// operator creates empty. Whoever holds Lease k owns the chats of ordinal k: it polls them
// and writes their records. The Manager runs one client-go LeaderElector (with a
// resourcelock.LeaseLock and ReleaseOnCancel) per ordinal it holds or competes for:
//
//   - its own ordinal, always;
//   - another ordinal only once that ordinal's Lease has been held and is now expired or
//     released, so a fresh Lease is left to its own runner at gateway creation. The
//     designated adopter ((k+1)%replicas for k < replicas, k%replicas for a removed
//     runner's ordinal) takes it at once; any other runner only after one more lease
//     duration without an owner.
//
// A vacant Lease is claimed with a conditional update (one winner among racing runners);
// the ordinal's elector then renews it at once. A runner that finds its own Lease held by
// a peer asks for it back with the chatstore.AnnotationHandback annotation; the peer
// writes its final records (OnRelease) and releases, the runner acquires and clears the
// request. A holder that cannot renew for the renew deadline, or sees the Lease deleted,
// reports OnLost before a peer may acquire. Leases are observed through one watch per
// Lease name, so Owner answers from memory.
package ownership
