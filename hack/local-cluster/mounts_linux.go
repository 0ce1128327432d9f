package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

type mount struct {
	Point  string
	FSType string
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mounts reads /proc/self/mountinfo.
func mounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		m := mount{Point: unescapeMount(fields[4])}
		for i := 6; i < len(fields)-1; i++ {
			if fields[i] == "-" {
				m.FSType = fields[i+1]
				break
			}
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}

func mountPoints() ([]string, error) {
	ms, err := mounts()
	if err != nil {
		return nil, err
	}
	var ps []string
	for _, m := range ms {
		ps = append(ps, m.Point)
	}
	return ps, nil
}

func under(p, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// newMountsUnder lists the mount points under any of dirs that are not in baseline, deepest
// first, once each.
func newMountsUnder(dirs []string, baseline map[string]bool) ([]string, error) {
	ps, err := mountPoints()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range ps {
		if baseline[p] || seen[p] {
			continue
		}
		for _, d := range dirs {
			if under(p, d) {
				seen[p] = true
				out = append(out, p)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Count(out[i], "/") > strings.Count(out[j], "/") })
	return out, nil
}

// unmountNew unmounts every mount under dirs that was not there before up (several rounds:
// mounts can be stacked and propagated), lazily as a last resort.
func unmountNew(dirs []string, baseline map[string]bool, logf func(string, ...any)) error {
	for round := 0; round < 10; round++ {
		ps, err := newMountsUnder(dirs, baseline)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return nil
		}
		for _, p := range ps {
			err := syscall.Unmount(p, 0)
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				err = syscall.Unmount(p, syscall.MNT_DETACH)
			}
			if err == nil {
				logf("unmounted %s", p)
			}
		}
	}
	ps, err := newMountsUnder(dirs, baseline)
	if err == nil && len(ps) > 0 {
		err = fmt.Errorf("still mounted: %s", strings.Join(ps, ", "))
	}
	return err
}
