package main

import (
	"fmt"
	"io"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/ownership"
	"github.com/gatewayops/genesys-gateway-operator/internal/chatstore"
)

// printStore writes the store mode's table.
func printStore(w io.Writer, cfg config, s *storeReport) {
	if s.skipped != "" {
		fmt.Fprintf(w, "Durable chat store figures skipped: %s.\n\n", s.skipped)
		return
	}
	a, b := s.first, s.second
	per := func(n int64) float64 { return float64(n) / a.Window.Seconds() }
	client := "client-go's default limits (QPS 5, burst 10), as the runner"
	if s.qps > 0 {
		client = fmt.Sprintf("QPS %g, burst %d (raised for comparison)", s.qps, int(2*s.qps))
	}
	fmt.Fprintf(w, "Durable chat store (chatrunner/store) on a real kube-apiserver and etcd (envtest), engine's API client with %s; "+
		"steady state: every chat connected, polled every second, one agent message per chat every %v:\n\n", client, cfg.storeMessageEvery)
	fmt.Fprintln(w, "| durable store | |")
	fmt.Fprintln(w, "|---|--:|")
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "| %s | %s |\n", name, fmt.Sprintf(format, args...))
	}
	row("chats / shards (Secrets)", "%d / %d (at most %d chats per shard)", a.Ready, s.shards, chatstore.ChatsPerShard)
	row("agent messages/s, polls/s (failed polls)", "%.0f, %.0f (%d)", per(a.Messages), per(a.Polls), a.PollErrs)
	row("store writes to the API server/s (failed)", "%.1f (%d)", per(a.Writes), a.WriteErrs)
	row("all API requests of the engine/s", "%.1f", per(a.Requests))
	row("bytes written/s (patch bodies) / per write", "%s/s / %s", size(float64(a.ReqBytes)/a.Window.Seconds()), size(ratio(a.ReqBytes, a.Writes)))
	row("bytes per chat in the store (Secret data / chats)", "%s (%s in %d records)", size(ratio(s.secretBytes, int64(s.secretKeys))), size(float64(s.secretBytes)), s.secretKeys)
	row("engine CPU with the store (cores)", "%.3f", a.CPU.Seconds()/a.Window.Seconds())
	row("kube-apiserver + etcd CPU (cores)", "%.3f", s.apiCPU.Seconds()/a.Window.Seconds())
	row("whole machine CPU busy (cores, all processes)", "%.2f", s.machineCPU.Seconds()/a.Window.Seconds())
	row("escalation of all chats, group commits included", "%s (%d refused and retried, %d failed)", dur(a.Ramp), a.Refused, a.Failed)
	fmt.Fprintln(w, "| *after a kill (SIGKILL: no release, no flush), a second engine takes the store over:* | |")
	row("Load", "%s (%d records, %d shards, %d API requests; %d corrupt)", dur(b.Load), b.Loaded, b.Shards, b.LoadGets, b.Corrupt)
	row("Resume", "%s (%d chats resumed, %d failed)", dur(b.Resume), b.Resumed, b.ResumeFails)
	row("every chat polled again, all its events re-derived: from Load / from the kill", "%s / %s", dur(b.Derived), dur(s.killToDerived))
	row("chats not re-derived within "+dur(resumeTimeout)+" / seams", "%d / %d", b.Missing, b.Seams)
	if a.MessagesFailed > 0 {
		row("agent messages not posted", "%d", a.MessagesFailed)
	}
	if a.Ready < cfg.chats {
		fmt.Fprintf(w, "\nOnly %d of %d chats were started and connected: %d escalations were refused (each bot retried %d times; the first refusal: %q). "+
			"The figures above are for those %d chats.\n", a.Ready, cfg.chats, a.Refused, escalateTries-1, a.RefusedWhy, a.Ready)
	}
	fmt.Fprintf(w, "\nplus lease expiry: %v by default (the killed runner's Lease, LeaseDuration, before a peer may take its chats; not included above; the kill-to-resumed time includes the second engine's process start)\n\n",
		ownership.DefaultLeaseDuration)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
