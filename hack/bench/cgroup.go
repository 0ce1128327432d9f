package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the file system type of a cgroup v2 mount.
const cgroup2Magic = 0x63677270

// cpuLimit is a cgroup this program created to hold one measured process to -cpus of CPU:
// on cgroup v2 (/sys/fs/cgroup a cgroup2 mount) cpu.max, else on a cgroup v1 cpu hierarchy
// (/sys/fs/cgroup/cpu, as on hybrid hosts) cpu.cfs_quota_us over cpu.cfs_period_us.
type cpuLimit struct {
	dir  string
	desc string // e.g. "cgroup v2 cpu.max 50000 100000"
}

// cpuPeriod is the quota period, in microseconds.
const cpuPeriod = 100000

// newCPULimit creates the cgroup with a quota of cpus CPUs. It fails when neither cgroup
// version offers the cpu controller: the run must not go on unlimited.
func newCPULimit(cpus float64) (*cpuLimit, error) {
	quota := int64(math.Round(cpus * cpuPeriod))
	if quota < 1000 {
		return nil, fmt.Errorf("-cpus %g is below the smallest quota (0.01)", cpus)
	}
	name := "genesys-bench-" + strconv.Itoa(os.Getpid())
	var errs []error
	// cgroup v2.
	const root = "/sys/fs/cgroup"
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err == nil && st.Type == cgroup2Magic {
		l, err := newCPULimitV2(root, name, quota)
		if err == nil {
			return l, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v2 at %s: %w", root, err))
	} else {
		errs = append(errs, fmt.Errorf("%s is not a cgroup v2 mount", root))
	}
	// cgroup v1 (hybrid): the cpu controller's own hierarchy.
	for _, v1 := range []string{root + "/cpu", root + "/cpu,cpuacct"} {
		if _, err := os.Stat(filepath.Join(v1, "cpu.cfs_quota_us")); err != nil {
			continue
		}
		l, err := newCPULimitV1(v1, name, quota)
		if err == nil {
			return l, nil
		}
		errs = append(errs, fmt.Errorf("cgroup v1 at %s: %w", v1, err))
	}
	return nil, fmt.Errorf("-cpus needs a cgroup with the cpu controller (run as root on Linux): %w", errors.Join(errs...))
}

func newCPULimitV2(root, name string, quota int64) (*cpuLimit, error) {
	ctrl, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	if !hasWord(string(ctrl), "cpu") {
		return nil, fmt.Errorf("the cpu controller is not available (cgroup.controllers: %q)", strings.TrimSpace(string(ctrl)))
	}
	sub, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	if err != nil {
		return nil, err
	}
	if !hasWord(string(sub), "cpu") {
		if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
			return nil, fmt.Errorf("enabling the cpu controller for child groups: %w", err)
		}
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	l := &cpuLimit{dir: dir, desc: fmt.Sprintf("cgroup v2 cpu.max %d %d", quota, cpuPeriod)}
	if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, cpuPeriod)), 0); err != nil {
		l.remove()
		return nil, fmt.Errorf("writing cpu.max: %w", err)
	}
	return l, nil
}

func newCPULimitV1(root, name string, quota int64) (*cpuLimit, error) {
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	l := &cpuLimit{dir: dir, desc: fmt.Sprintf("cgroup v1 cpu.cfs_quota_us %d / cpu.cfs_period_us %d", quota, cpuPeriod)}
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(cpuPeriod)), 0); err != nil {
		l.remove()
		return nil, fmt.Errorf("writing cpu.cfs_period_us: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.FormatInt(quota, 10)), 0); err != nil {
		l.remove()
		return nil, fmt.Errorf("writing cpu.cfs_quota_us: %w", err)
	}
	return l, nil
}

// add moves a process (all its threads) into the group.
func (l *cpuLimit) add(pid int) error {
	if err := os.WriteFile(filepath.Join(l.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("moving process %d into %s: %w", pid, l.dir, err)
	}
	return nil
}

// throttling is the group's cpu.stat on one line (periods and throttling), for the log.
func (l *cpuLimit) throttling() string {
	b, err := os.ReadFile(filepath.Join(l.dir, "cpu.stat"))
	if err != nil {
		return err.Error()
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// remove deletes the group once its processes have exited (it retries for a few seconds,
// then reports on standard error).
func (l *cpuLimit) remove() {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(l.dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench: removing the cgroup %s: %v\n", l.dir, err)
}

// gomaxprocsFor is the GOMAXPROCS of a process held to cpus CPUs: ceil(cpus).
func gomaxprocsFor(cpus float64) int {
	return int(math.Max(1, math.Ceil(cpus)))
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
