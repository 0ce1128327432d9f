package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// runnerAndBare returns the runner's and the bare loop's results of one run of -modes.
func runnerAndBare(rs []*result) (p [2]*result, ok bool) {
	for _, r := range rs {
		switch r.Mode {
		case modeRunner:
			p[0] = r
		case modeBare:
			p[1] = r
		}
	}
	return p, p[0] != nil && p[1] != nil
}

// printRatios writes the runner/bare ratios of each run (-repeat) and their medians.
func printRatios(w io.Writer, pairs [][2]*result) {
	if len(pairs) == 0 {
		return
	}
	type measure struct {
		name string
		of   func(*result) float64
	}
	measures := []measure{
		{"CPU per poll", func(r *result) float64 { return float64(cpuPerPoll(r)) }},
		{"heap allocated per poll", func(r *result) float64 {
			if r.Polls == 0 {
				return 0
			}
			return float64(r.Allocated) / float64(r.Polls)
		}},
		{"memory per chat", memPerChat},
		{"poll lateness p99", func(r *result) float64 { return float64(r.Lateness.P99) }},
	}
	fmt.Fprintf(w, "\n#### runner/bare over %d runs\n\n| | each run | median |\n|---|--:|--:|\n", len(pairs))
	for _, m := range measures {
		var each []float64
		cells := ""
		for i, p := range pairs {
			if i > 0 {
				cells += " / "
			}
			b := m.of(p[1])
			if b <= 0 {
				cells += "n/a"
				continue
			}
			each = append(each, m.of(p[0])/b)
			cells += fmt.Sprintf("%.2f×", each[len(each)-1])
		}
		med := "n/a"
		if len(each) > 0 {
			med = fmt.Sprintf("%.2f×", median(each))
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", m.name, cells, med)
	}
	var runner, bare []float64
	for _, p := range pairs {
		runner, bare = append(runner, float64(cpuPerPoll(p[0]))), append(bare, float64(cpuPerPoll(p[1])))
	}
	fmt.Fprintf(w, "\nCPU per poll, median of the runs: runner %v, bare loop %v.\n",
		dur(time.Duration(median(runner))), dur(time.Duration(median(bare))))
}

// median is the middle of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
