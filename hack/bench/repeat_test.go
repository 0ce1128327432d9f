package main

import (
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{1.19, 1.00, 1.04}, 1.04},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestPrintRatiosGivesEachRunAndTheMedian(t *testing.T) {
	side := func(mode string, cpu time.Duration) *result {
		return &result{Mode: mode, Chats: 10, Polls: 100, CPU: cpu, Allocated: 1000, MemBase: 0, MemChats: 1000}
	}
	var pairs [][2]*result
	for _, cpu := range []time.Duration{100, 120, 90} {
		p, ok := runnerAndBare([]*result{side(modeRunner, cpu*time.Millisecond), side(modeBare, 100*time.Millisecond)})
		if !ok {
			t.Fatal("runnerAndBare found no pair")
		}
		pairs = append(pairs, p)
	}
	var b strings.Builder
	printRatios(&b, pairs)
	out := b.String()
	for _, want := range []string{
		"over 3 runs",
		"| CPU per poll | 1.00× / 1.20× / 0.90× | 1.00× |",
		"| heap allocated per poll | 1.00× / 1.00× / 1.00× | 1.00× |",
		"runner 1.0 ms, bare loop 1.0 ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the ratios lack %q:\n%s", want, out)
		}
	}
}
