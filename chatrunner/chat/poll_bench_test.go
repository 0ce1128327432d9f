package chat_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat/chattest"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/gmssim"
)

// BenchmarkPoll measures the engine's cost per poll: N chats waiting for an agent poll the
// GMS simulator (in this process, on loopback) at an interval they cannot keep up with, so
// the engine polls as fast as the machine allows. One op is one round: N polls. Reported
// per poll: ns-wall/poll (the time of a round over N), cpu-ns/poll (the process's user and
// system CPU over the polls) and allocs/poll, B/poll (runtime.MemStats). The simulator's
// server side runs in the same process: its CPU and allocations are included (the profiles
// tell them apart).
//
//	go test ./chatrunner/chat/ -run '^$' -bench BenchmarkPoll -benchtime 10x \
//	    -cpuprofile /tmp/poll.cpu -memprofile /tmp/poll.mem
func BenchmarkPoll(b *testing.B) {
	for _, n := range []int{2000} {
		b.Run(fmt.Sprintf("chats=%d", n), func(b *testing.B) { benchmarkPoll(b, n) })
	}
}

func benchmarkPoll(b *testing.B, n int) {
	var polls atomic.Int64
	s := chattest.Settings()
	s.PollInterval = 20 * time.Millisecond // far more than the machine can do: saturated
	s.EscalationTimeout = time.Hour
	s.Agents, s.MaxChatsPerAgent = n/100+1, 100
	env := chattest.Start(b, s, gmssim.Options{ServiceName: "customer-support", MaxRecordedRequests: 1000},
		chat.Options{IDPrefix: "r0", PollLateness: func(time.Duration) { polls.Add(1) }})
	for i := range n {
		if _, _, err := env.Manager.Escalate(context.Background(), escalation(fmt.Sprintf("bench-%d", i))); err != nil {
			b.Fatalf("escalation %d: %v", i, err)
		}
	}
	// Warm up: every chat requested and polled a few times, connections pooled.
	waitPolls(b, &polls, polls.Load()+int64(3*n))

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start, p0 := time.Now(), polls.Load()
	b.ResetTimer()
	waitPolls(b, &polls, p0+int64(b.N)*int64(n))
	b.StopTimer()
	wall, done := time.Since(start), polls.Load()-p0
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(wall.Nanoseconds())/float64(done), "ns-wall/poll")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(done), "cpu-ns/poll")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(done), "allocs/poll")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(done), "B/poll")
	env.Stop()
}

// waitPolls waits until polls reaches target.
func waitPolls(b *testing.B, polls *atomic.Int64, target int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for polls.Load() < target {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d polls in 5 minutes", polls.Load(), target)
		}
		time.Sleep(time.Millisecond)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
