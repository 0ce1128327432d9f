package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	chatv1alpha1 "github.com/gatewayops/genesys-gateway-operator/api/v1alpha1"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/chat"
)

// modeOverload is the engine (with -runner-with) held to -overload-cpus while bots keep
// escalating at -overload-rate through the window, on top of -chats started before it:
// past what the CPU carries, the engine must shed new escalations (503, behind its polls)
// before any chat's gap between polls nears three intervals, and no chat may fail or idle
// out. The simulator's idle timeout (-sim-idle-timeout) ends any chat left unpolled for
// longer, and its stats give every chat's longest gap.
const modeOverload = "overload"

// overloadResult is the overload mode's figures.
type overloadResult struct {
	Start    int   `json:"start"` // live chats when the window started
	Offered  int64 `json:"offered"`
	Accepted int64 `json:"accepted"`
	Shed     int64 `json:"shed"`    // refused with 503 because the engine was behind
	Paced    int64 `json:"paced"`   // refused by the pacing after a shed
	Refused  int64 `json:"refused"` // refused otherwise (full, the store)
	// RefusedWhy is the error of the first escalation refused otherwise.
	RefusedWhy string `json:"refusedWhy,omitempty"`
	// FirstShed is when the first escalation was shed, into the window (0: none), with the
	// live chats and the lag then.
	FirstShed       time.Duration   `json:"firstShed"`
	LiveAtFirstShed int             `json:"liveAtFirstShed"`
	LagAtFirstShed  time.Duration   `json:"lagAtFirstShed"`
	MaxLag          time.Duration   `json:"maxLag"` // the largest lag of the engine's status, sampled each second
	Live            int             `json:"live"`   // live chats at the end
	Failed          int64           `json:"failed"` // chats that failed in the window
	Ended           int64           `json:"ended"`  // chats that ended in the window (failed ones included)
	Timeline        []overloadPoint `json:"timeline"`
	// Set by the parent.
	CPULimit string        `json:"-"`
	Rate     float64       `json:"-"`
	Window   time.Duration `json:"-"`
}

// overloadPoint is one second of the window.
type overloadPoint struct {
	At       time.Duration `json:"at"`
	Live     int           `json:"live"`
	Polls    int64         `json:"polls"`    // in the second before
	Deferred int64         `json:"deferred"` // in the second before
	Lag      time.Duration `json:"lag"`
	Accepted int64         `json:"accepted"` // so far
	Shed     int64         `json:"shed"`     // so far
}

// overload offers the escalations of the window and samples the engine each second.
type overload struct {
	cfg   config
	rs    *runnerSide
	m     *meter
	out   *lines
	start time.Time

	offered, accepted, shed, paced, refused atomic.Int64
	why                                     sync.Once

	mu      sync.Mutex
	res     overloadResult
	pending []string // accepted chats whose agent has not been asked to join
	wg      sync.WaitGroup

	failed0, ended0 int64
}

// startOverload starts offering (until offerCtx ends) and sampling; escalations run with
// ctx, so that those in flight at the window's end finish.
func startOverload(ctx, offerCtx context.Context, cfg config, rs *runnerSide, m *meter, out *lines) *overload {
	o := &overload{cfg: cfg, rs: rs, m: m, out: out, start: time.Now()}
	st := rs.m.Status()
	o.res.Start, o.failed0, o.ended0 = int(st.ActiveChats), st.FailedChatsTotal, st.EndedChatsTotal
	n := totalChats(cfg, modeOverload) - cfg.chats
	logf("overload: %d live chats; offering %d escalations at %.0f/s", o.res.Start, n, cfg.overloadRate)
	o.wg.Go(func() {
		var opening sync.WaitGroup
		rampUp(offerCtx, n, cfg.overloadRate, func(k int) {
			o.offered.Add(1)
			opening.Go(func() { o.escalate(ctx, cfg.chats+k) })
		})
		opening.Wait()
	})
	o.wg.Go(func() { o.sample(offerCtx) })
	return o
}

// escalate offers chat i, as a bot would, and counts the outcome.
func (o *overload) escalate(ctx context.Context, i int) {
	id, err := o.rs.escalate(ctx, i)
	if err == nil {
		o.accepted.Add(1)
		o.mu.Lock()
		o.pending = append(o.pending, id)
		o.mu.Unlock()
		return
	}
	var capErr *chat.CapacityError
	if errors.As(err, &capErr) && capErr.Pacing {
		o.paced.Add(1)
		return
	}
	if errors.As(err, &capErr) && capErr.Behind > 0 {
		if o.shed.Add(1) == 1 {
			live := int(o.rs.m.Status().ActiveChats)
			o.mu.Lock()
			o.res.FirstShed, o.res.LagAtFirstShed, o.res.LiveAtFirstShed = time.Since(o.start), capErr.Behind, live
			o.mu.Unlock()
			logf("overload: first escalation shed: %v", err)
		}
		return
	}
	o.refused.Add(1)
	o.why.Do(func() { o.res.RefusedWhy = err.Error() })
}

// sample records each second and asks for the agents of the chats Genesys has taken.
func (o *overload) sample(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	polls, deferred := o.m.polls.Load(), o.m.deferred.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := o.rs.m.Status()
		p, s := o.m.polls.Load(), o.m.deferred.Load()
		pt := overloadPoint{At: time.Since(o.start).Round(time.Second), Live: int(st.ActiveChats), Polls: p - polls, Deferred: s - deferred,
			Lag: time.Duration(st.PollLagMilliseconds) * time.Millisecond, Accepted: o.accepted.Load(), Shed: o.shed.Load()}
		polls, deferred = p, s
		pl := o.rs.m.PollLoad()
		logf("overload: %v: %d live, %d polls/s, %d deferred, lag %v, %d accepted, %d shed; %d polls in flight, %d waiting, limit %d, %d goroutines",
			pt.At, pt.Live, pt.Polls, pt.Deferred, pt.Lag, pt.Accepted, pt.Shed, pl.InFlight, pl.Waiting, pl.Limit, runtime.NumGoroutine())
		o.mu.Lock()
		o.res.Timeline = append(o.res.Timeline, pt)
		o.res.MaxLag = max(o.res.MaxLag, pt.Lag)
		pending := o.pending
		o.pending = nil
		o.mu.Unlock()
		var still []string
		for _, id := range pending {
			v, err := o.rs.m.Get(id)
			switch {
			case err != nil:
			case v.State == chatv1alpha1.ChatWaitingForAgent && v.GenesysChatID != "":
				o.out.send(lineJoin + v.GenesysChatID)
			case v.State == chatv1alpha1.ChatRequesting:
				still = append(still, id)
			}
		}
		o.mu.Lock()
		o.pending = append(o.pending, still...)
		o.mu.Unlock()
	}
}

// finish waits for the offers in flight and returns the figures.
func (o *overload) finish() *overloadResult {
	o.wg.Wait()
	st := o.rs.m.Status()
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.res
	r.Offered, r.Accepted, r.Shed, r.Paced, r.Refused = o.offered.Load(), o.accepted.Load(), o.shed.Load(), o.paced.Load(), o.refused.Load()
	r.Live, r.Failed, r.Ended = int(st.ActiveChats), st.FailedChatsTotal-o.failed0, st.EndedChatsTotal-o.ended0
	return &r
}

// runOverload runs the overload mode: the engine held to -overload-cpus for
// -overload-window.
func runOverload(ctx context.Context, cfg config) (*result, error) {
	c := cfg
	c.duration, c.cpus = cfg.overloadWindow, cfg.overloadCPUs
	if c.cpus > 0 {
		lim, err := newCPULimit(c.cpus)
		if err != nil {
			return nil, err
		}
		lim.remove()
		c.cpuLimitDesc = fmt.Sprintf("held to %g CPU (%s), GOMAXPROCS %d", c.cpus, lim.desc, gomaxprocsFor(c.cpus))
	}
	r, err := runSide(ctx, c, modeOverload)
	if err != nil {
		return nil, err
	}
	r.Overload.CPULimit = c.cpuLimitDesc
	r.Overload.Rate, r.Overload.Window = c.overloadRate, c.duration
	return r, nil
}

// printOverload writes the overload mode's table.
func printOverload(w io.Writer, cfg config, r *result) {
	o := r.Overload
	if o == nil {
		return
	}
	fmt.Fprintf(w, "\n#### Overload: the engine %s, escalations offered at %.0f/s for %v\n\n", o.CPULimit, o.Rate, o.Window)
	fmt.Fprintf(w, "Carried: %s. Simulator idle timeout %v.\n\n", r.Extras, cfg.simIdleTimeout)
	fmt.Fprintln(w, "| | |\n|---|--:|")
	row := func(k, v string) { fmt.Fprintf(w, "| %s | %s |\n", k, v) }
	row("live chats at the start / at the end", fmt.Sprintf("%d / %d", o.Start, o.Live))
	row("escalations offered / accepted / shed (503, behind) / paced (503, taken gradually after a shed) / refused otherwise",
		fmt.Sprintf("%d / %d / %d / %d / %d", o.Offered, o.Accepted, o.Shed, o.Paced, o.Refused))
	if o.RefusedWhy != "" {
		row("first refused otherwise", o.RefusedWhy)
	}
	if o.FirstShed > 0 {
		row("first shed", fmt.Sprintf("%.1f s into the window, at %d live chats, lag %s", o.FirstShed.Seconds(), o.LiveAtFirstShed, dur(o.LagAtFirstShed)))
	} else {
		row("first shed", "none")
	}
	row("largest lag reported (status, sampled each second)", dur(o.MaxLag))
	row("poll lateness p50 / p99 / max", triple(r.Lateness))
	row("polls / turns deferred (poll still in flight) in the window", fmt.Sprintf("%d / %d", r.Polls, r.Deferred))
	if r.Sim != nil {
		row("longest gap between two polls of one chat: max / p99 / p50 of the chats' longest", dur(r.Sim.MaxRequestGap)+" / "+dur(r.Sim.RequestGapP99)+" / "+dur(r.Sim.RequestGapP50))
		row(fmt.Sprintf("chats ended by the simulator's %v idle timeout", cfg.simIdleTimeout), strconv.Itoa(r.Sim.EndedByIdleTimeout))
	}
	row("chats failed / ended in the window", fmt.Sprintf("%d / %d", o.Failed, o.Ended))
	row("failed polls", strconv.FormatInt(r.PollErrors, 10))
	row("goroutines / open files at the end", fmt.Sprintf("%d / %d", r.Goroutines, r.OpenFiles))
	row("CPU used (cores)", fmt.Sprintf("%.3f", r.CPU.Seconds()/r.Window.Seconds()))
	row("whole machine CPU busy (cores, all processes)", fmt.Sprintf("%.2f", r.MachineCPU.Seconds()/r.Window.Seconds()))
	fmt.Fprintln(w, "\n| second | live chats | polls/s | deferred/s | lag | accepted | shed |\n|--:|--:|--:|--:|--:|--:|--:|")
	for i, p := range o.Timeline {
		if i%5 != 4 && i != len(o.Timeline)-1 {
			continue
		}
		fmt.Fprintf(w, "| %.0f | %d | %d | %d | %s | %d | %d |\n", p.At.Seconds(), p.Live, p.Polls, p.Deferred, dur(p.Lag), p.Accepted, p.Shed)
	}
	fmt.Fprintln(w)
}
