package chat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	testingclock "k8s.io/utils/clock/testing"
)

// probingGMS is a scriptedGMS whose Probe answers as the test says.
type probingGMS struct {
	scriptedGMS
	pmu    sync.Mutex
	probes int
	fail   error
}

func (p *probingGMS) Probe(context.Context) error {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.probes++
	return p.fail
}

func (p *probingGMS) set(err error) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.fail = err
}

func (p *probingGMS) count() int {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	return p.probes
}

// TestAnIdleRunnerProbesGenesys: a runner without chats probes at start, then every
// DefaultProbeIdle while Genesys answers and every DefaultProbeRetry while it does not;
// failures count up until the first answer, which clears them.
func TestAnIdleRunnerProbesGenesys(t *testing.T) {
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	f := &probingGMS{scriptedGMS: scriptedGMS{refresh: map[string]error{}}}
	f.set(errors.New("dial tcp: lookup gms.acme.invalid: no such host"))
	m, _ := runManager(t, Options{GMS: f, Clock: clk, Settings: Settings{
		Domain: "acme", PollInterval: time.Hour, EscalationTimeout: time.Hour, AvailabilityRefresh: time.Hour,
		Agents: 1, MaxChatsPerAgent: 10, Locale: "en-US",
	}})

	g.Eventually(f.count).Should(Equal(1), "a probe at start")
	g.Eventually(func() int32 { return m.Status().GenesysFailures }).Should(BeEquivalentTo(1))
	g.Expect(m.Status().LastError).To(ContainSubstring("no such host"))

	step := func(d time.Duration) {
		for range int(d / probeTick) {
			g.Eventually(clk.HasWaiters).Should(BeTrue())
			clk.Step(probeTick)
		}
	}
	step(DefaultProbeRetry)
	g.Eventually(f.count).Should(Equal(2), "failing: again after DefaultProbeRetry")
	g.Eventually(func() int32 { return m.Status().GenesysFailures }).Should(BeEquivalentTo(2))

	f.set(nil)
	step(DefaultProbeRetry)
	g.Eventually(f.count).Should(Equal(3))
	g.Eventually(func() int32 { return m.Status().GenesysFailures }).Should(BeZero(), "the first answer clears the failures")
	g.Expect(m.Status().LastError).To(BeEmpty())
	g.Expect(m.Status().LastGenesysAnswerTime).NotTo(BeNil())

	step(DefaultProbeRetry)
	g.Consistently(f.count, 50*time.Millisecond).Should(Equal(3), "answering: not before DefaultProbeIdle")
	step(DefaultProbeIdle - DefaultProbeRetry)
	g.Eventually(f.count).Should(Equal(4), "idle: every DefaultProbeIdle")
}
