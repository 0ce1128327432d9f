package report

import (
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// retryJitter lengthens each wait before a retry by up to a fifth, at random. The runners
// of a gateway fail together when the API server does; without it they would retry in
// lock-step, and meet it together again as it comes back.
const retryJitter = 0.2

// retryBackoff is the waits between the attempts of one write to the API server: first,
// then doubling each time, never above limit when limit > 0, with jitter. The gms client
// and the Entra ID token keeper back off with wait.Backoff too.
func retryBackoff(first, limit time.Duration) wait.Backoff {
	return wait.Backoff{Duration: first, Factor: 2, Jitter: retryJitter, Steps: math.MaxInt32, Cap: limit}
}

// nextWait steps b and returns the wait, at most b.Cap when it has one: wait.Backoff adds
// its jitter after the cap, and the cap is a promise.
func nextWait(b *wait.Backoff) time.Duration {
	d := b.Step()
	if b.Cap > 0 {
		d = min(d, b.Cap)
	}
	return d
}
