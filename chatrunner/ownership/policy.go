package ownership

import "time"

// designatedAdopter is the runner that adopts ordinal k's chats first when its Lease is
// vacant: the next runner for a running ordinal, so that one restart moves the chats to
// one known peer; for a removed runner's ordinal (k >= replicas) the runner that the
// ordinal folds onto, spreading the removed stores over the remaining runners.
func designatedAdopter(k, replicas int) int {
	if replicas <= 0 {
		return 0
	}
	if k < replicas {
		return (k + 1) % replicas
	}
	return k % replicas
}

// mayAdopt reports whether runner self may claim the Lease of ordinal k (k != self) at
// now. Only a Lease that has been held before and is now released or expired qualifies:
// a fresh Lease belongs to its own runner, which has not started yet. The designated
// adopter may claim at once; any other runner after one more leaseDuration without an
// owner, so that a dead designated adopter does not strand the chats. A pending hand-back
// request (a running ordinal whose runner asks for it) makes everyone wait, since that
// runner is about to acquire.
func mayAdopt(k, self, replicas int, st leaseState, now time.Time, leaseDuration time.Duration) bool {
	since, vacant := st.vacantSince(now)
	if !vacant || k == self {
		return false
	}
	designated := designatedAdopter(k, replicas) == self
	if k < replicas && st.handback != "" {
		designated = false
	}
	return designated || !now.Before(since.Add(leaseDuration))
}

// shouldHandBack reports whether the holder of ordinal k (k != self) must give it back:
// the ordinal's own runner, still part of the set, asked for it.
func shouldHandBack(k, self, replicas int, st leaseState, home string) bool {
	return k != self && k < replicas && st.handback != "" && st.handback == home
}

// shouldAskBack reports whether this runner must ask for its own ordinal back: a peer
// holds it validly and the request is not already there. An expired Lease needs no
// request, the own elector acquires it.
func shouldAskBack(st leaseState, identity string, now time.Time) bool {
	return st.valid(now) && st.holder != identity && st.handback != identity
}
