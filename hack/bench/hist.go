package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a fixed-size, lock-free log-linear histogram of durations (HDR-like): exact below
// 128 ns, then 64 buckets per power of two, so a percentile is off by at most 1/64 (1.6%).
// Its memory does not grow with the number of samples.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // values below are exact
	histHalf    = histSub / 2
	histBuckets = histSub + (64-histSubBits)*histHalf
)

// bucketOf is the bucket of a value.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits
	return histSub + (e-1)*histHalf + int(v>>e) - histHalf
}

// bucketRange is the smallest and largest value of a bucket.
func bucketRange(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	e := (i-histSub)/histHalf + 1
	sub := uint64((i-histSub)%histHalf + histHalf)
	return sub << e, (sub+1)<<e - 1
}

// record adds one sample; a negative one counts as 0.
func (h *hist) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// count is the number of samples.
func (h *hist) count() uint64 { return h.n.Load() }

// quantile returns the q-quantile (0 < q <= 1): the middle of the bucket holding it, never
// above the largest sample; 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(n)))
	target = min(max(target, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= target {
			lo, hi := bucketRange(i)
			return min(time.Duration(lo+(hi-lo)/2), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// summary is what the report shows of a histogram.
type summary struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

func (h *hist) summary() summary {
	return summary{Count: h.count(), P50: h.quantile(0.50), P99: h.quantile(0.99), Max: time.Duration(h.max.Load())}
}
