package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupMounts returns the mount points of the cgroup (v1) and cgroup2 hierarchies.
func cgroupMounts() []string {
	ms, _ := mounts()
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		if (m.FSType == "cgroup" || m.FSType == "cgroup2") && !seen[m.Point] {
			seen[m.Point] = true
			out = append(out, m.Point)
		}
	}
	return out
}

// cgroupTree lists dir and the cgroups below it, deepest first.
func cgroupTree(dir string) []string {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

func cgroupPIDs(dir string) []int {
	var pids []int
	for _, d := range cgroupTree(dir) {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, l := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(l); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
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
