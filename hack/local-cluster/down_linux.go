package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// down stops what up started and undoes what it (and the components) changed, as recorded
// in <state>/state.json. Every step tolerates things being gone already, so down can be run
// again; the state folder is removed only once everything is undone.
func down(o downOptions) error {
	t0 := time.Now()
	logf := func(format string, a ...any) {
		fmt.Printf("[%6.2fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
	}
	dir, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	st, err := loadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !exists(dir) {
			logf("nothing to do: %s does not exist", dir)
			return nil
		}
		// up creates the folder and writes the record right away: an empty folder is all a
		// failure in between can leave. Anything else is not ours to delete.
		if ents, _ := os.ReadDir(dir); len(ents) == 0 {
			logf("removing the empty state folder %s", dir)
			return os.Remove(dir)
		}
		return fmt.Errorf("%s has no %s: not a local-cluster state folder, not touching it", dir, stateFileName)
	}
	if err != nil {
		return err
	}
	if st.Dir != dir {
		return fmt.Errorf("%s records the cluster of %s, not of %s: not touching it", st.file, st.Dir, dir)
	}
	d := &downer{st: st, o: o, logf: logf}
	d.run()
	if len(d.errs) > 0 {
		return fmt.Errorf("%d step(s) failed; the state folder %s is kept, run down again once fixed:\n  %w",
			len(d.errs), dir, errors.Join(d.errs...))
	}
	logf("host restored; down took %.1fs", time.Since(t0).Seconds())
	return nil
}

type downer struct {
	st   *state
	o    downOptions
	logf func(string, ...any)
	errs []error
}

func (d *downer) note(err error) {
	if err != nil {
		d.errs = append(d.errs, err)
		d.logf("ERROR: %v", err)
	}
}

func (d *downer) procs(name string) []proc {
	var ps []proc
	for _, p := range d.st.Processes {
		if p.Name == name {
			ps = append(ps, p)
		}
	}
	return ps
}

func (d *downer) stop(name string) {
	for _, p := range d.procs(name) {
		d.note(stopProcess(p, d.o.grace, d.logf))
	}
}

func (d *downer) run() {
	st := d.st
	// Nothing new gets scheduled, created or started.
	d.stop("kube-scheduler")
	d.stop("kube-controller-manager")
	d.stop("kubelet")

	// The pods' containers, through containerd while it runs; then containerd, then any shim
	// of ours that is left, then any process left in kubelet's cgroups.
	for _, c := range d.procs("containerd") {
		if alive(c) {
			d.note(d.removeContainers())
		}
	}
	d.stop("containerd")
	for _, c := range d.procs("containerd") {
		for _, s := range containerdShims(c) {
			d.note(stopProcess(s, 5*time.Second, d.logf))
		}
	}
	d.killCgroupProcesses()

	// Services: kube-proxy, then its rules.
	d.stop("kube-proxy")
	if len(d.procs("kube-proxy")) > 0 {
		d.kubeProxyCleanup()
	}

	// Control plane last.
	d.stop("kube-apiserver")
	d.stop("etcd")
	known := map[string]bool{"kube-scheduler": true, "kube-controller-manager": true, "kubelet": true, "containerd": true, "kube-proxy": true, "kube-apiserver": true, "etcd": true}
	for _, p := range st.Processes {
		if !known[p.Name] {
			d.note(stopProcess(p, d.o.grace, d.logf))
		}
	}
	for _, p := range st.Processes {
		if alive(p) {
			d.note(fmt.Errorf("%s (pid %d) still runs", p.Name, p.PID))
		}
	}

	// Mounts (kubelet's volumes and its root dir, containerd's rootfs and shm mounts, the
	// pods' network namespaces), then the namespaces' files, interfaces and rules.
	baseline := map[string]bool{}
	for _, m := range st.BaselineMounts {
		baseline[m] = true
	}
	dirs := []string{st.Dir, containerdState}
	for _, r := range st.Paths {
		if !r.Existed && r.Path != "/run/netns" && r.Path != containerdState {
			dirs = append(dirs, r.Path)
		}
	}
	d.note(unmountNew(dirs, baseline, d.logf))
	d.removeNetns(baseline)
	d.removeLinks()
	for _, c := range st.Chains {
		if removed, err := c.remove(); err != nil {
			d.note(err)
		} else if removed {
			d.logf("%s -t %s: removed chain %s and its jump from %s", c.Cmd, c.Table, c.Chain, c.From)
		}
	}
	d.removeKubeChains()
	for _, n := range st.NfacctCounters {
		err := nfacct(nfnlMsgAcctDel, n)
		switch {
		case err == nil:
			d.logf("removed kube-proxy's nfacct counter %s", n)
		case errors.Is(err, syscall.ENOENT):
		default:
			d.note(fmt.Errorf("nfacct counter %s: %w", n, err))
		}
	}
	for _, s := range st.Sysctls {
		if v, ok := readSysctl(s.Name); ok && v != s.Prev {
			if err := writeSysctl(s.Name, s.Prev); err != nil {
				d.note(fmt.Errorf("restoring sysctl %s to %s: %w", s.Name, s.Prev, err))
			} else {
				d.logf("sysctl %s restored: %s -> %s", s.Name, v, s.Prev)
			}
		}
	}
	d.removeCgroups()
	d.removePaths()
	if len(d.errs) > 0 {
		return
	}

	// The state folder, once nothing is mounted below it.
	if ps, err := newMountsUnder([]string{st.Dir}, nil); err != nil || len(ps) > 0 {
		d.note(fmt.Errorf("not removing %s: still mounted below it: %v %v", st.Dir, ps, err))
		return
	}
	if d.o.saveLogs != "" {
		d.note(copyDir(filepath.Join(st.Dir, "logs"), d.o.saveLogs))
		d.logf("logs copied to %s", d.o.saveLogs)
	}
	if err := os.RemoveAll(st.Dir); err != nil {
		d.note(err)
		return
	}
	d.logf("removed %s", st.Dir)
	if len(st.PackagesInstalled) > 0 {
		d.logf("Debian packages installed by up stay installed: %s", strings.Join(st.PackagesInstalled, " "))
	}
}

func ctr(args ...string) (string, error) {
	return run(2*time.Minute, "ctr", append([]string{"--address", containerdSocket}, args...)...)
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// removeContainers kills and deletes every task and container of our containerd (its root
// is in the state folder: all of them are the cluster's), in every namespace.
func (d *downer) removeContainers() error {
	out, err := ctr("namespaces", "ls", "-q")
	if err != nil {
		return err
	}
	for _, ns := range lines(out) {
		out, err := ctr("-n", ns, "containers", "ls", "-q")
		if err != nil {
			return err
		}
		ids := lines(out)
		for _, id := range ids {
			_, _ = ctr("-n", ns, "tasks", "kill", "-a", "-s", "SIGKILL", id)
		}
		for _, id := range ids {
			if out, err := ctr("-n", ns, "tasks", "delete", "-f", id); err != nil && !strings.Contains(out, "not found") {
				d.note(err)
			}
			if _, err := ctr("-n", ns, "containers", "delete", id); err != nil {
				d.note(err)
			}
		}
		if len(ids) > 0 {
			d.logf("killed and deleted %d containers in containerd namespace %s", len(ids), ns)
		}
	}
	return nil
}

// killCgroupProcesses kills what is left in kubelet's cgroups (the pods' processes).
func (d *downer) killCgroupProcesses() {
	for _, cg := range d.st.CgroupDirs {
		for i := 0; i < 50; i++ {
			pids := cgroupPIDs(cg)
			if len(pids) == 0 {
				break
			}
			if i == 0 {
				d.logf("killing %d processes left in %s", len(pids), cg)
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if pids := cgroupPIDs(cg); len(pids) > 0 {
			d.note(fmt.Errorf("processes %v are still in %s", pids, cg))
		}
	}
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

// removeNetns removes the pods' network namespaces (/run/netns/cni-*) that containerd made.
func (d *downer) removeNetns(baseline map[string]bool) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join("/run/netns", e.Name())
		if !strings.HasPrefix(e.Name(), "cni-") || baseline[p] {
			continue
		}
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			d.note(fmt.Errorf("unmounting %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil {
			d.note(err)
			continue
		}
		d.logf("removed network namespace %s", p)
	}
}

// removeLinks deletes the pods' veths on the bridge, then the bridge.
func (d *downer) removeLinks() {
	if d.st.Bridge == "" || !linkExists(d.st.Bridge) {
		return
	}
	for _, v := range bridgePorts(d.st.Bridge) {
		if _, err := run(30*time.Second, "ip", "link", "delete", v); err != nil && linkExists(v) {
			d.note(err)
		} else {
			d.logf("deleted %s (on %s)", v, d.st.Bridge)
		}
	}
	if _, err := run(30*time.Second, "ip", "link", "delete", d.st.Bridge); err != nil {
		d.note(err)
		return
	}
	d.logf("deleted bridge %s", d.st.Bridge)
}

// removeCgroups removes kubelet's cgroups, deepest first.
func (d *downer) removeCgroups() {
	n := 0
	for _, cg := range d.st.CgroupDirs {
		for _, dir := range cgroupTree(cg) {
			var err error
			for i := 0; i < 50; i++ {
				if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				d.note(fmt.Errorf("removing cgroup %s: %w", dir, err))
			} else {
				n++
			}
		}
	}
	if n > 0 {
		d.logf("removed kubelet's cgroups (%d)", n)
	}
}

// removePaths removes the folders the components created outside the state folder.
func (d *downer) removePaths() {
	for _, r := range d.st.Paths {
		if r.Existed || !exists(r.Path) {
			continue
		}
		ps, err := newMountsUnder([]string{r.Path}, nil)
		if r.Path == "/run/netns" {
			// Others' namespaces (ip netns add, which also bind-mounts /run/netns on itself)
			// may have come since ours: remove the folder only if empty and not mounted.
			ents, _ := os.ReadDir(r.Path)
			if len(ents) > 0 || len(ps) > 0 {
				d.logf("left %s: it holds network namespaces that are not the cluster's (%d)", r.Path, len(ents))
				continue
			}
			if err := os.Remove(r.Path); err != nil {
				d.note(err)
				continue
			}
			d.logf("removed %s (created while the cluster ran)", r.Path)
			continue
		}
		if err != nil || len(ps) > 0 {
			d.note(fmt.Errorf("not removing %s: mounted below it: %v %v", r.Path, ps, err))
			continue
		}
		if err := os.RemoveAll(r.Path); err != nil {
			d.note(err)
			continue
		}
		d.logf("removed %s (created while the cluster ran)", r.Path)
	}
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
