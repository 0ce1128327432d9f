package ownership_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// wait bounds the polls: generous against a loaded machine, far below the test timeout.
const wait = 10 * time.Second

// Each runner of two acquires its own Lease, and each sees the other's holder.
func TestEachRunnerAcquiresItsOwnLease(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)
	for _, c := range []struct{ from, k int }{{0, 1}, {1, 0}, {0, 0}} {
		r := []*runner{r0, r1}[c.from]
		want := []*runner{r0, r1}[c.k].id
		eventually(t, wait, func() bool { id, ok := r.m.Owner(c.k); return ok && id == want },
			func() string { return fmt.Sprintf("runner %d does not see %s owning ordinal %d", c.from, want, c.k) })
	}
	if id, ok := r0.m.Owner(7); ok {
		t.Errorf("Owner of an unknown ordinal = %q", id)
	}
}

// A fresh Lease, whose runner has not started yet, is left to that runner.
func TestFreshLeaseIsNotTaken(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0 := f.start(0)
	r0.waitHeld(wait, 0)
	deadline := time.Now().Add(2*leaseDuration + retryPeriod)
	for time.Now().Before(deadline) {
		if h := f.holder(1); h != "" || !slices.Equal(r0.m.Held(), []int{0}) {
			t.Fatalf("the fresh lease of ordinal 1 was taken: holder %q, runner 0 holds %v", h, r0.m.Held())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r1 := f.start(1)
	r1.waitHeld(wait, 1)
}

// A runner that stops gracefully writes its final records while it still holds the
// Lease, then releases it, and the designated peer takes over at once.
func TestGracefulStopHandsOverAtOnce(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)

	r1.shutdown()
	stopped := time.Now()
	rel := r1.waitEvent("release", 1, time.Second)
	if rel.holderAtRelease != r1.id {
		t.Errorf("OnRelease ran with the lease held by %q, want %q: released too early", rel.holderAtRelease, r1.id)
	}
	if _, lost := r1.first("lost", 1); lost {
		t.Error("a graceful stop reported the lease lost")
	}
	acq := r0.waitEvent("acquired", 1, wait)
	if d := acq.at.Sub(stopped); d > leaseDuration/2 {
		t.Errorf("runner 0 took %v to take ordinal 1 over, want well under the lease duration %v", d, leaseDuration)
	}
	r0.waitHeld(wait, 0, 1)
	if h := f.holder(1); h != r0.id {
		t.Errorf("lease 1 held by %q, want %q", h, r0.id)
	}
	if id, ok := r0.m.Owner(1); !ok || id != r0.id {
		t.Errorf("Owner(1) = %q, %v; want %q", id, ok, r0.id)
	}
}

// A runner that dies (no more API calls, no release) leaves its Lease to expire; the
// designated peer takes it over after the expiry, not before.
func TestCrashedRunnerLeaseIsAdoptedAfterExpiry(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)

	r1.partition() // the process dies: nothing it does reaches the API server any more
	crashed := time.Now()
	r1.stop()
	acq := r0.waitEvent("acquired", 1, wait)
	if d := acq.at.Sub(crashed); d < leaseDuration-retryPeriod || d > 2*leaseDuration+time.Second {
		t.Errorf("runner 0 took ordinal 1 over %v after the crash, want about the lease duration %v", d, leaseDuration)
	}
	r0.waitHeld(wait, 0, 1)
}

// A partitioned runner stops touching the chats within the renew deadline, before a peer
// can acquire; the peer acquires after the expiry. When the partition heals, the runner
// asks for its ordinal back.
func TestPartitionedRunnerLosesBeforePeerAcquires(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)

	r1.partition()
	lost := r1.waitEvent("lost", 1, wait)
	if d := lost.at.Sub(r1.cutSince); d > renewDeadline+retryPeriod {
		t.Errorf("OnLost came %v after the partition, want within the renew deadline %v", d, renewDeadline)
	}
	if len(r1.m.Held()) != 0 {
		t.Errorf("partitioned runner still holds %v", r1.m.Held())
	}
	acq := r0.waitEvent("acquired", 1, wait)
	if !acq.at.After(lost.at) {
		t.Errorf("runner 0 acquired ordinal 1 at %v, before runner 1 lost it at %v", acq.at, lost.at)
	}

	r1.cut.Store(false) // healed: runner 1 asks for its chats back
	r0.waitEvent("release", 1, wait)
	r1.waitHeld(wait, 1)
	r0.waitHeld(wait, 0)
	eventually(t, wait, func() bool { _, ok := f.lease(1).Annotations[chatstore.AnnotationHandback]; return !ok },
		func() string { return "the hand-back request was not cleared" })
}

// A runner started again while a peer holds its ordinal gets it back: the peer writes
// its final records, releases, the runner acquires and clears its request.
func TestRestartedRunnerGetsItsChatsBack(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)
	r1.shutdown()
	r0.waitHeld(wait, 0, 1)

	r1again := f.start(1)
	rel := r0.waitEvent("release", 1, wait)
	if rel.holderAtRelease != r0.id {
		t.Errorf("runner 0 gave ordinal 1 back after releasing it (holder %q at OnRelease)", rel.holderAtRelease)
	}
	r1again.waitHeld(wait, 1)
	r0.waitHeld(wait, 0)
	eventually(t, wait, func() bool { _, ok := f.lease(1).Annotations[chatstore.AnnotationHandback]; return !ok },
		func() string { return "the hand-back request was not cleared" })
	if _, lost := r0.first("lost", 1); lost {
		t.Error("the hand-back reported the lease lost")
	}
}

// Scaled down from 3 runners to 1, the remaining runner adopts the stores of the removed
// runners.
func TestScaleDownToOneRunnerAdoptsAll(t *testing.T) {
	f := newFixture(t, 3, 0, 1, 2)
	r0, r1, r2 := f.start(0), f.start(1), f.start(2)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)
	r2.waitHeld(wait, 2)

	f.replicas.Store(1)
	r2.shutdown()
	r1.shutdown()
	r0.waitHeld(wait, 0, 1, 2)
	for k := range 3 {
		if h := f.holder(k); h != r0.id {
			t.Errorf("lease %d held by %q, want %q", k, h, r0.id)
		}
	}
}

// When the operator deletes the Lease of a store it removed, its holder stops owning it
// at once instead of failing to renew.
func TestDeletedLeaseEndsOwnership(t *testing.T) {
	f := newFixture(t, 1, 0, 1)
	r0 := f.start(0)
	r0.waitHeld(wait, 0)
	// Ordinal 1 was held by a runner that is gone (scaled down to one): runner 0 adopts it.
	r1 := f.start(1)
	r1.waitHeld(wait, 1)
	r1.shutdown()
	r0.waitHeld(wait, 0, 1)

	deleted := time.Now()
	must(t, kube.CoordinationV1().Leases(f.gw.Namespace).Delete(t.Context(), chatstore.LeaseName(f.gw, 1), metav1.DeleteOptions{}))
	lost := r0.waitEvent("lost", 1, wait)
	if d := lost.at.Sub(deleted); d > renewDeadline {
		t.Errorf("OnLost came %v after the deletion", d)
	}
	r0.waitHeld(wait, 0)
}

// A hand-back request whose runner does not come to take its ordinal is dropped by the
// next adopter, after one more lease duration: the ordinal does not bounce between
// adopters while its runner is away.
func TestStaleHandBackRequestIsDropped(t *testing.T) {
	f := newFixture(t, 2, 0, 1)
	r0, r1 := f.start(0), f.start(1)
	r0.waitHeld(wait, 0)
	r1.waitHeld(wait, 1)
	r1.shutdown()
	r0.waitHeld(wait, 0, 1)

	// Runner 1 asks for its chats back, then is gone again before it can take them.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, chatstore.AnnotationHandback, r1.id)
	_, err := kube.CoordinationV1().Leases(f.gw.Namespace).Patch(t.Context(), chatstore.LeaseName(f.gw, 1),
		types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	must(t, err)
	released := r0.waitEvent("release", 1, wait).at
	r0.waitHeld(wait, 0)
	r0.waitHeld(3*leaseDuration, 0, 1)
	if d := time.Since(released); d < leaseDuration-retryPeriod {
		t.Errorf("ordinal 1 adopted again %v after the hand-back, want after one more lease duration", d)
	}
	if v, ok := f.lease(1).Annotations[chatstore.AnnotationHandback]; ok {
		t.Errorf("stale hand-back request %q kept", v)
	}
}
