package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// iptChain is one of our chains and the rule of From that jumps to it.
type iptChain struct {
	Cmd   string     `json:"cmd"` // iptables or ip6tables
	Table string     `json:"table"`
	Chain string     `json:"chain"`
	From  string     `json:"from"`
	Jump  []string   `json:"jump"`
	Rules [][]string `json:"rules"`
}

func (c iptChain) ipt(args ...string) (string, error) {
	return run(30*time.Second, c.Cmd, append([]string{"-w", "-t", c.Table}, args...)...)
}

func (c iptChain) chainExists() bool {
	_, err := c.ipt("-S", c.Chain)
	return err == nil
}

// create makes the chain and its rules, and inserts the jump as the first rule of From.
func (c iptChain) create() error {
	if _, err := c.ipt("-N", c.Chain); err != nil {
		return err
	}
	for _, r := range c.Rules {
		if _, err := c.ipt(append([]string{"-A", c.Chain}, r...)...); err != nil {
			return err
		}
	}
	_, err := c.ipt(append([]string{"-I", c.From, "1"}, c.Jump...)...)
	return err
}

// jumpPositions returns the 1-based rule numbers in From of the rules that jump to Chain.
func (c iptChain) jumpPositions() ([]int, error) {
	out, err := c.ipt("-S", c.From)
	if err != nil {
		return nil, err
	}
	var pos []int
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "-A "+c.From+" ") {
			continue
		}
		n++
		if strings.HasSuffix(l, " -j "+c.Chain) {
			pos = append(pos, n)
		}
	}
	return pos, nil
}

// ensureFirst puts the jump back in first place of From (kube-proxy prepends its own jumps
// to FORWARD when it starts) without a moment where it is missing: insert first, then delete
// the other copies by number.
func (c iptChain) ensureFirst() (moved bool, err error) {
	pos, err := c.jumpPositions()
	if err != nil {
		return false, err
	}
	if len(pos) == 1 && pos[0] == 1 {
		return false, nil
	}
	if len(pos) == 0 || pos[0] != 1 {
		if _, err := c.ipt(append([]string{"-I", c.From, "1"}, c.Jump...)...); err != nil {
			return false, err
		}
	}
	pos, err = c.jumpPositions()
	if err != nil {
		return true, err
	}
	for i := len(pos) - 1; i >= 1; i-- {
		if _, err := c.ipt("-D", c.From, strconv.Itoa(pos[i])); err != nil {
			return true, err
		}
	}
	pos, err = c.jumpPositions()
	if err == nil && (len(pos) != 1 || pos[0] != 1) {
		err = fmt.Errorf("%s: the jump to %s is at %v of %s, want only 1", c.Cmd, c.Chain, pos, c.From)
	}
	return true, err
}

// remove deletes every jump to the chain and the chain; already gone is fine. It tells
// whether there was anything to remove.
func (c iptChain) remove() (bool, error) {
	if _, err := lookPath(c.Cmd); err != nil {
		return false, nil // never installed, so never changed
	}
	removed := false
	for i := 0; i < 20; i++ {
		pos, err := c.jumpPositions()
		if err != nil {
			return removed, err
		}
		if len(pos) == 0 {
			break
		}
		if _, err := c.ipt("-D", c.From, strconv.Itoa(pos[len(pos)-1])); err != nil {
			return removed, err
		}
		removed = true
	}
	if !c.chainExists() {
		return removed, nil
	}
	if _, err := c.ipt("-F", c.Chain); err != nil {
		return true, err
	}
	_, err := c.ipt("-X", c.Chain)
	return true, err
}

// iptablesChains lists the chains of every table, from iptables-save.
func iptablesChains(cmd string) (map[string][]string, error) {
	out, err := run(time.Minute, cmd+"-save")
	if err != nil {
		return nil, err
	}
	chains := map[string][]string{}
	table := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = strings.TrimPrefix(l, "*")
		case strings.HasPrefix(l, ":") && table != "":
			if f := strings.Fields(l[1:]); len(f) > 0 {
				chains[table] = append(chains[table], f[0])
			}
		}
	}
	return chains, nil
}

func (d *downer) kubeProxyCleanup() {
	bin := filepath.Join(d.st.Bin, "kube-proxy")
	if !exists(bin) {
		d.logf("%s is gone: skipping kube-proxy --cleanup (the KUBE-* chains are removed below)", bin)
		return
	}
	out, err := run(2*time.Minute, bin, "--cleanup")
	if err != nil {
		// It also cleans up the nftables and IPVS modes, which may not exist here; what is
		// left of iptables is checked and removed below.
		d.logf("kube-proxy --cleanup reported: %s", strings.TrimSpace(tail(out, 3)))
		return
	}
	d.logf("kube-proxy --cleanup done")
}

// removeKubeChains removes the KUBE-* chains (kube-proxy's, kubelet's) that did not exist
// before up and are still there, with the rules that jump to them.
func (d *downer) removeKubeChains() {
	for _, cmd := range []string{"iptables", "ip6tables"} {
		if _, err := lookPath(cmd); err != nil {
			continue
		}
		chains, err := iptablesChains(cmd)
		if err != nil {
			d.note(err)
			continue
		}
		pre := map[string]bool{}
		for _, c := range d.st.KubeChains {
			pre[c] = true
		}
		for table, names := range chains {
			var ours []string
			for _, n := range names {
				if strings.HasPrefix(n, "KUBE-") && !pre[cmd+"/"+table+"/"+n] {
					ours = append(ours, n)
				}
			}
			if len(ours) == 0 {
				continue
			}
			c := iptChain{Cmd: cmd, Table: table}
			isOurs := map[string]bool{}
			for _, n := range ours {
				isOurs[n] = true
			}
			// Jumps to them from the other chains, by rule number, last first.
			for _, from := range names {
				if isOurs[from] {
					continue
				}
				c.From = from
				for _, n := range ours {
					c.Chain = n
					pos, err := c.jumpPositions()
					if err != nil {
						d.note(err)
						continue
					}
					for i := len(pos) - 1; i >= 0; i-- {
						if _, err := c.ipt("-D", from, fmt.Sprint(pos[i])); err != nil {
							d.note(err)
						}
					}
				}
			}
			for _, n := range ours {
				if _, err := c.ipt("-F", n); err != nil {
					d.note(err)
				}
			}
			for _, n := range ours {
				if _, err := c.ipt("-X", n); err != nil {
					d.note(err)
				}
			}
			d.logf("%s -t %s: removed leftover chains %s", cmd, table, strings.Join(ours, " "))
		}
	}
}
