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

// downer is one run of down; its steps are methods of it in the file of each concern
// (containerd, cgroups, iptables, network, snapshot), and a failed step is noted and the
// next one runs.
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
