package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hostPath is the PATH the daemons and the commands run with: iptables, conntrack and runc
// are in /usr/sbin, which a non-login root shell may lack.
const hostPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func hostEnv() []string {
	env := []string{"PATH=" + hostPath}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "CONTAINERD_") {
			env = append(env, kv)
		}
	}
	return env
}

// run runs a command to completion (at most timeout) and returns its combined output; the
// error includes the output.
func run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = hostEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func lookPath(name string) (string, error) {
	for _, d := range filepath.SplitList(hostPath) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, hostPath)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// --- sysctls ---

func sysctlFile(name string) string {
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
}

func readSysctl(name string) (string, bool) {
	b, err := os.ReadFile(sysctlFile(name))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func writeSysctl(name, value string) error {
	return os.WriteFile(sysctlFile(name), []byte(value+"\n"), 0o644)
}

// --- processes ---

// procStat returns the start time (clock ticks after boot) and state letter of pid.
func procStat(pid int) (start uint64, st byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, f[0][0], true
}

// alive tells whether the recorded process still runs: same PID, same start time, and not
// a zombie waiting for its parent (PID 1 after up exited).
func alive(p proc) bool {
	start, st, ok := procStat(p.PID)
	return ok && start == p.StartTime && st != 'Z' && st != 'X'
}

// stopProcess sends SIGTERM to the recorded process (only if it is still the same process),
// waits up to grace, then SIGKILL.
func stopProcess(p proc, grace time.Duration, logf func(string, ...any)) error {
	if !alive(p) {
		logf("%s (pid %d) is not running", p.Name, p.PID)
		return nil
	}
	t0 := time.Now()
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(p, grace) {
		logf("stopped %s (pid %d) with SIGTERM in %.1fs", p.Name, p.PID, time.Since(t0).Seconds())
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(p, 10*time.Second) {
		logf("killed %s (pid %d) with SIGKILL after %s", p.Name, p.PID, grace)
		return nil
	}
	return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
}

func waitGone(p proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(p) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procCmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// allPIDs lists the processes of the machine.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// containerdShims finds the containerd-shim processes of our containerd: those whose
// command line names our containerd's socket and that started after it. up refuses to start
// while another containerd serves that socket, so no other containerd's shims can match.
func containerdShims(containerd proc) []proc {
	var shims []proc
	for _, pid := range allPIDs() {
		args := procCmdline(pid)
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		ours := false
		for i, a := range args {
			if (a == "-address" || a == "--address") && i+1 < len(args) && args[i+1] == containerdSocket {
				ours = true
			}
		}
		start, st, ok := procStat(pid)
		if !ours || !ok || start < containerd.StartTime || st == 'Z' {
			continue
		}
		shims = append(shims, proc{Name: "containerd-shim", PID: pid, StartTime: start, Cmd: args})
	}
	return shims
}

// --- mounts ---

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

// --- network ---

func linkExists(name string) bool {
	return exists("/sys/class/net/" + name)
}

// bridgePorts lists the interfaces enslaved to bridge (the pods' veths).
func bridgePorts(bridge string) []string {
	ents, err := os.ReadDir("/sys/class/net/" + bridge + "/brif")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// portFree tells whether addr (host:port) can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// socketLive tells whether something accepts connections on a unix socket.
func socketLive(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// --- iptables ---

// iptChain is one of our chains and the rule of From that jumps to it.
type iptChain struct {
	Cmd   string     `json:"cmd"` // iptables or ip6tables
	Table string     `json:"table"`
	Chain string     `json:"chain"`
	From  string     `json:"from"`
	Jump  []string   `json:"jump"`
	Rules [][]string `json:"rules"`
}

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

// --- nfacct (kube-proxy creates two counters through netlink and leaves them behind) ---

var kubeProxyNfacctCounters = []string{"ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"}

const (
	nfnlSubsysAcct = 7
	nfnlMsgAcctGet = 1
	nfnlMsgAcctDel = 3 // NFNL_MSG_ACCT_DEL (2 is GET_CTRZERO)
	nfacctAttrName = 1
)

// nfacct sends one nfnetlink accounting request about a named counter and returns the
// kernel's error (nil, ENOENT when no such counter, EBUSY when in use...).
func nfacct(cmd uint16, name string) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	attr := append([]byte(name), 0)
	attrLen := 4 + len(attr)
	attrPadded := (attrLen + 3) &^ 3
	msgLen := syscall.NLMSG_HDRLEN + 4 + attrPadded
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], nfnlSubsysAcct<<8|cmd)
	ne.PutUint16(b[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_ACK)
	ne.PutUint32(b[8:], 1) // sequence
	// nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0
	o := syscall.NLMSG_HDRLEN + 4
	ne.PutUint16(b[o:], uint16(attrLen))
	ne.PutUint16(b[o+2:], nfacctAttrName)
	copy(b[o+4:], attr)
	if err := syscall.Sendto(fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for i := 0; i < 10; i++ {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(ne.Uint32(m.Data[:4])); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
		}
	}
	return errors.New("no acknowledgement from netlink")
}

func nfacctExists(name string) (bool, error) {
	err := nfacct(nfnlMsgAcctGet, name)
	if errors.Is(err, syscall.ENOENT) {
		return false, nil
	}
	return err == nil, err
}
