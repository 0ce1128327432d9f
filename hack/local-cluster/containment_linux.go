package main

import (
	"sort"
	"strings"
	"time"
)

// containmentChains are the same chain in filter FORWARD (as its first rule) and in mangle
// FORWARD, for IPv4 and IPv6. mangle's FORWARD runs before filter's and kube-proxy never
// touches it, so the containment holds even while kube-proxy prepends its own jumps to
// filter FORWARD (up puts ours back in first place after kube-proxy's first sync).
func containmentChains() []iptChain {
	var cs []iptChain
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "mangle"} {
			cs = append(cs, iptChain{
				Cmd: cmd, Table: table, Chain: containmentChain, From: "FORWARD",
				Jump: []string{"-m", "comment", "--comment", containmentTag + ": pods stay on this machine", "-j", containmentChain},
				Rules: [][]string{
					{"-i", bridgeName, "-o", bridgeName, "-m", "comment", "--comment", containmentTag + ": pod bridge to pod bridge", "-j", "RETURN"},
					{"-m", "comment", "--comment", containmentTag + ": nothing else is forwarded", "-j", "DROP"},
				},
			})
		}
	}
	return cs
}

// contain makes FORWARD (IPv4 and IPv6) drop everything that does not both enter and leave
// the pod bridge, before the bridge or any pod exists.
func (c *cluster) contain() error {
	for _, ch := range containmentChains() {
		if err := c.st.record(func() { c.st.Chains = append(c.st.Chains, ch) }); err != nil {
			return err
		}
		if err := ch.create(); err != nil {
			return err
		}
	}
	c.logf("FORWARD containment (filter and mangle, IPv4 and IPv6): first rule jumps to %s, which passes only %s to %s", containmentChain, bridgeName, bridgeName)
	return nil
}

// keepContainmentFirst puts our jump back in first place of filter FORWARD once kube-proxy's
// first sync has prepended its own: it waits until IPv4 and IPv6 FORWARD hold the same
// KUBE-* jumps, unchanged for a second (at most 20 s), then moves ours if needed. Without
// settle, it only checks and moves.
func (c *cluster) keepContainmentFirst(settle bool) error {
	t := time.Now()
	last, since := "", time.Now()
	for settle && time.Since(t) < 20*time.Second {
		v4, v6 := kubeJumps("iptables"), kubeJumps("ip6tables")
		if cur := v4 + "|" + v6; cur != last {
			last, since = cur, time.Now()
		}
		if v4 != "" && v4 == v6 && time.Since(since) >= time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, ch := range c.st.Chains {
		moved, err := ch.ensureFirst()
		if err != nil {
			return err
		}
		if moved {
			c.logf("%s -t %s: moved the jump to %s back to the first rule of %s", ch.Cmd, ch.Table, ch.Chain, ch.From)
		}
	}
	return nil
}

// kubeJumps lists the targets of the KUBE-* jumps in the filter table's FORWARD.
func kubeJumps(cmd string) string {
	out, err := run(30*time.Second, cmd, "-w", "-t", "filter", "-S", "FORWARD")
	if err != nil {
		return ""
	}
	var ts []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.LastIndex(l, " -j KUBE-"); i >= 0 {
			ts = append(ts, l[i+4:])
		}
	}
	sort.Strings(ts)
	return strings.Join(ts, ",")
}
