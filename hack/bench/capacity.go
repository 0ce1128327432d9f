package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// Capacity criteria: a side sustains N chats when, over the window, polls/s reach
// capacityPolls × N and the p99 poll lateness stays below capacityLateness.
const (
	capacityLateness = 50 * time.Millisecond
	capacityPolls    = 0.99
	capacityMax      = 1 << 20 // no search goes past this many chats
)

// runCapacity searches, for each runner or bare mode in -modes, the largest number of
// chats the side sustains: doubling from -capacity-start while it passes, then bisecting
// between the last pass and the first failure until they are within 10%. It prints each
// trial and the result as Markdown.
func runCapacity(ctx context.Context, cfg config) error {
	start := time.Now()
	fmt.Printf("\n#### Capacity at 1 s polling (p99 lateness < %v, polls/s ≥ %.2f × chats), %v windows\n\n",
		capacityLateness, capacityPolls, cfg.capacityWindow)
	fmt.Printf("Machine: %s\n\n", machineLine(cfg))
	var summary []string
	for _, mode := range strings.Split(cfg.modes, ",") {
		mode = strings.TrimSpace(mode)
		if mode != modeRunner && mode != modeBare {
			continue
		}
		sideStart := time.Now()
		fmt.Printf("| %s: chats | polls/s | failed polls | lateness p50 / p99 / max | CPU (cores) | sustained |\n|--:|--:|--:|--:|--:|:-:|\n", mode)
		trial := func(n int) (bool, error) {
			c := cfg
			c.chats, c.duration = n, cfg.capacityWindow
			if c.probeRate > float64(n)/2 {
				c.probeRate = float64(n) / 2
			}
			r, err := runSide(ctx, c, mode)
			if err != nil {
				if ctx.Err() != nil {
					return false, err
				}
				// An overloaded side may not even set its chats up: a failure, not the end.
				fmt.Printf("| %d | | | %v | | no |\n", n, err)
				return false, nil
			}
			pps := float64(r.Polls) / r.Window.Seconds()
			ok := r.Lateness.Count > 0 && r.Lateness.P99 < capacityLateness && pps >= capacityPolls*float64(n)
			cores := r.CPU.Seconds() / r.Window.Seconds()
			verdict := "no"
			if ok {
				verdict = "yes"
			}
			fmt.Printf("| %d | %.0f | %d | %s | %.2f | %s |\n", n, pps, r.PollErrors, triple(r.Lateness), cores, verdict)
			return ok, nil
		}
		lo, hi := 0, 0 // largest pass, smallest failure (0: none yet)
		for n := cfg.capacityStart; n <= capacityMax; n *= 2 {
			ok, err := trial(n)
			if err != nil {
				return fmt.Errorf("%s, %d chats: %w", mode, n, err)
			}
			if !ok {
				hi = n
				break
			}
			lo = n
		}
		for hi > 0 && hi-lo > hi/10 && hi-lo > 1 {
			mid := lo + (hi-lo)/2
			ok, err := trial(mid)
			if err != nil {
				return fmt.Errorf("%s, %d chats: %w", mode, mid, err)
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		var s string
		switch {
		case hi == 0:
			s = fmt.Sprintf("%s sustains at least %d chats (the search's limit)", mode, lo)
		case lo == 0:
			s = fmt.Sprintf("%s sustains fewer than %d chats", mode, hi)
		default:
			s = fmt.Sprintf("%s sustains %d chats (fails at %d)", mode, lo, hi)
		}
		s += fmt.Sprintf("; search took %v", time.Since(sideStart).Round(time.Second))
		fmt.Printf("\n%s.\n\n", s)
		summary = append(summary, s)
	}
	if len(summary) == 0 {
		return fmt.Errorf("-capacity needs runner or bare in -modes")
	}
	fmt.Fprintf(os.Stdout, "Capacity search: %s; %v in all.\n", strings.Join(summary, "; "), time.Since(start).Round(time.Second))
	return nil
}
