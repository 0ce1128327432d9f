package ownership

import (
	"testing"
	"time"
)

func TestDesignatedAdopter(t *testing.T) {
	cases := []struct{ k, replicas, want int }{
		{0, 2, 1}, {1, 2, 0}, {2, 3, 0}, {1, 3, 2},
		{1, 1, 0}, {2, 1, 0}, {0, 1, 0}, // one runner adopts everything
		{3, 3, 0}, {4, 3, 1}, // removed runners' stores fold onto the rest
	}
	for _, c := range cases {
		if got := designatedAdopter(c.k, c.replicas); got != c.want {
			t.Errorf("designatedAdopter(%d, %d) = %d, want %d", c.k, c.replicas, got, c.want)
		}
	}
}

func TestMayAdopt(t *testing.T) {
	now := time.Unix(1000, 0)
	d := 2 * time.Second
	held := leaseState{exists: true, everHeld: true, holder: "gw-runner-1", duration: d}
	cases := []struct {
		name     string
		st       leaseState
		self     int
		replicas int
		want     bool
	}{
		{"fresh lease", leaseState{exists: true}, 0, 2, false},
		{"valid", with(held, now.Add(-time.Second), ""), 0, 2, false},
		{"expired, designated", with(held, now.Add(-3*time.Second), ""), 0, 2, true},
		{"expired, other, too early", with(held, now.Add(-3*time.Second), ""), 0, 3, false},
		{"expired, other, after one more duration", with(held, now.Add(-5*time.Second), ""), 0, 3, true},
		{"released, designated", released(now), 0, 2, true},
		{"released, hand-back pending", with(released(now), now, "gw-runner-1"), 0, 2, false},
		{"released, hand-back to a removed runner ignored", with(released(now), now, "gw-runner-1"), 0, 1, true},
	}
	for _, c := range cases {
		if got := mayAdopt(1, c.self, c.replicas, c.st, now, d); got != c.want {
			t.Errorf("%s: mayAdopt = %v, want %v", c.name, got, c.want)
		}
	}
}

func with(s leaseState, observedAt time.Time, handback string) leaseState {
	s.observedAt, s.handback = observedAt, handback
	return s
}

func released(now time.Time) leaseState {
	return leaseState{exists: true, everHeld: true, duration: time.Second, observedAt: now}
}

func TestHandBackDecisions(t *testing.T) {
	now := time.Unix(1000, 0)
	st := leaseState{exists: true, everHeld: true, holder: "gw-runner-0", duration: 2 * time.Second,
		observedAt: now, handback: "gw-runner-1"}
	if !shouldHandBack(1, 0, 2, st, "gw-runner-1") {
		t.Error("holder of ordinal 1 must hand it back to gw-runner-1")
	}
	if shouldHandBack(1, 0, 1, st, "gw-runner-1") {
		t.Error("no hand-back to a removed runner")
	}
	if shouldAskBack(st, "gw-runner-1", now) {
		t.Error("asked again although the request is there")
	}
	st.handback = ""
	if !shouldAskBack(st, "gw-runner-1", now) {
		t.Error("must ask for the own lease held by a peer")
	}
	if shouldAskBack(st, "gw-runner-1", now.Add(3*time.Second)) {
		t.Error("no request for an expired lease")
	}
}
