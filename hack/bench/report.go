package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// printReport writes the results as a Markdown section.
func printReport(w io.Writer, cfg config, rs []*result, stored []*storeReport) {
	fmt.Fprintf(w, "\n#### %d chats, 1 s polling, %v window\n\n", cfg.chats, cfg.duration)
	fmt.Fprintf(w, "Machine: %s\n\n", machineLine(cfg))
	var sides []*result
	for _, r := range rs {
		if r.Mode != modeWebhook && r.Mode != modeOverload {
			sides = append(sides, r)
		}
	}
	if len(sides) > 0 {
		printSides(w, cfg, sides)
	}
	for _, r := range rs {
		printWebhook(w, cfg, r)
		printOverload(w, cfg, r)
	}
	for _, s := range stored {
		printStore(w, cfg, s)
	}
}

// printSides writes the table of the runner and bare sides.
func printSides(w io.Writer, cfg config, rs []*result) {
	head := "| |"
	sep := "|---|"
	for _, r := range rs {
		head += " " + map[string]string{modeRunner: "runner", modeBare: "bare loop"}[r.Mode] + " |"
		sep += "--:|"
	}
	ratio := len(rs) == 2 && rs[0].Mode == modeRunner && rs[1].Mode == modeBare
	if ratio {
		head += " runner/bare |"
		sep += "--:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	row := func(name string, cell func(*result) string, cmp func(*result) float64) {
		line := "| " + name + " |"
		for _, r := range rs {
			line += " " + cell(r) + " |"
		}
		if ratio {
			c := ""
			if cmp != nil && cmp(rs[1]) > 0 {
				c = fmt.Sprintf("%.2f×", cmp(rs[0])/cmp(rs[1]))
			}
			line += " " + c + " |"
		}
		fmt.Fprintln(w, line)
	}
	row(fmt.Sprintf("polls/s (target %d)", cfg.chats), func(r *result) string {
		return fmt.Sprintf("%.0f", float64(r.Polls)/r.Window.Seconds())
	}, nil)
	row("failed polls", func(r *result) string { return strconv.FormatInt(r.PollErrors, 10) }, nil)
	row("poll lateness p50 / p99 / max", func(r *result) string { return triple(r.Lateness) }, nil)
	row("Refresh Chat round trip p50 / p99", func(r *result) string {
		return dur(r.RoundTrip.P50) + " / " + dur(r.RoundTrip.P99)
	}, nil)
	row("agent message → event p50 / p99 / max", func(r *result) string { return triple(r.Message) }, nil)
	row("agent messages seen / sent", func(r *result) string {
		s := fmt.Sprintf("%d / %d", r.Message.Count, r.Probes)
		if r.Lost > 0 || r.MessagesFailed > 0 {
			s += fmt.Sprintf(" (%d lost, %d not posted)", r.Lost, r.MessagesFailed)
		}
		return s
	}, nil)
	row("turns deferred (poll still in flight)", func(r *result) string {
		return strconv.FormatInt(r.Deferred, 10)
	}, nil)
	row("longest gap between two polls of one chat: max / p99 of the chats' longest", func(r *result) string {
		if r.Sim == nil {
			return "n/a"
		}
		return dur(r.Sim.MaxRequestGap) + " / " + dur(r.Sim.RequestGapP99)
	}, nil)
	row(fmt.Sprintf("chats ended by the simulator's %v idle timeout", cfg.simIdleTimeout), func(r *result) string {
		if r.Sim == nil {
			return "n/a"
		}
		return strconv.Itoa(r.Sim.EndedByIdleTimeout)
	}, nil)
	row("store writes (failed) / webhook deliveries (failed, duplicates) in the window", func(r *result) string {
		if r.Mode == modeBare {
			return "n/a"
		}
		return fmt.Sprintf("%d (%d) / %d (%d, %d)", r.StoreWrites, r.StoreWriteErrors, r.Delivered, r.DeliveryFailed, r.HookDuplicates)
	}, nil)
	row("CPU per poll", func(r *result) string { return dur(cpuPerPoll(r)) }, func(r *result) float64 {
		return float64(cpuPerPoll(r))
	})
	row("heap allocated per poll (bytes / objects)", func(r *result) string {
		if r.Polls == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s / %d", size(float64(r.Allocated)/float64(r.Polls)), r.Allocations/uint64(r.Polls))
	}, func(r *result) float64 {
		if r.Polls == 0 {
			return 0
		}
		return float64(r.Allocated) / float64(r.Polls)
	})
	row("garbage collections in the window", func(r *result) string { return strconv.FormatUint(uint64(r.GCs), 10) }, nil)
	row("CPU used (cores)", func(r *result) string {
		return fmt.Sprintf("%.3f", r.CPU.Seconds()/r.Window.Seconds())
	}, nil)
	row(fmt.Sprintf("memory per chat (live heap + stacks, %v after idle connections closed)", memSettle), func(r *result) string { return size(memPerChat(r)) }, memPerChat)
	row("live heap + stacks with all chats (stacks, goroutines) / RSS at the end", func(r *result) string {
		return fmt.Sprintf("%s (%s, %d) / %s", size(float64(r.MemChats)), size(float64(r.StacksChats)), r.GoroutinesChats, size(float64(r.RSS)))
	}, nil)
	row("goroutines / open files at the end", func(r *result) string {
		return strconv.Itoa(r.Goroutines) + " / " + strconv.Itoa(r.OpenFiles)
	}, nil)
	row("simulator CPU (cores, its own process)", func(r *result) string {
		if r.SimCPU == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", r.SimCPU.Seconds()/r.Window.Seconds())
	}, nil)
	row("kube-apiserver + etcd CPU (cores, the store's)", func(r *result) string {
		if r.APICPU == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", r.APICPU.Seconds()/r.Window.Seconds())
	}, nil)
	row("whole machine CPU busy (cores, all processes)", func(r *result) string {
		if r.MachineCPU == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", r.MachineCPU.Seconds()/r.Window.Seconds())
	}, nil)
	for _, r := range rs {
		if r.Extras != "" {
			fmt.Fprintf(w, "\nThe %s carried %s.\n", r.Mode, r.Extras)
		}
	}
	for _, r := range rs {
		if r.Ready < r.Chats {
			fmt.Fprintf(w, "\nOnly %d of %d %s chats were connected when the window started.\n", r.Ready, r.Chats, r.Mode)
		}
	}
	fmt.Fprintln(w)
}

func cpuPerPoll(r *result) time.Duration {
	if r.Polls == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Polls)
}

func memPerChat(r *result) float64 {
	if r.MemChats < r.MemBase || r.Chats == 0 {
		return 0
	}
	return float64(r.MemChats-r.MemBase) / float64(r.Chats)
}

func triple(s summary) string {
	if s.Count == 0 {
		return "n/a"
	}
	return dur(s.P50) + " / " + dur(s.P99) + " / " + dur(s.Max)
}

// dur shows a duration with 3 significant digits or so.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func size(b float64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", b/(1<<30))
}

// machine describes this machine: CPU model and count, memory, OS, architecture, Go.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				mem = fmt.Sprintf(", %.1f GiB memory", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d)%s, %s/%s, %s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// machineLine is machine plus the CPU quota of the measured processes, if any.
func machineLine(cfg config) string {
	s := machine()
	if cfg.pinned != nil {
		s += "; " + cfg.pinned.desc
	}
	if cfg.cpuLimitDesc != "" {
		s += "; " + cfg.cpuLimitDesc
	}
	return s
}
