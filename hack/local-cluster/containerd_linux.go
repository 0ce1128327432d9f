package main

import (
	"path/filepath"
	"strings"
	"time"
)

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

func ctr(args ...string) (string, error) {
	return run(2*time.Minute, "ctr", append([]string{"--address", containerdSocket}, args...)...)
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

// importImages imports the --image-archive tarballs into containerd's k8s.io namespace
// (the CRI's), and warns when the pause image is not there: images are never pulled.
func (c *cluster) importImages() error {
	for _, a := range c.o.imageArchives {
		t := time.Now()
		if _, err := run(5*time.Minute, "ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "import", a); err != nil {
			return err
		}
		c.logf("imported %s (%.1fs)", a, time.Since(t).Seconds())
	}
	if out, err := run(10*time.Second, "ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "ls", "-q", "name=="+c.st.PauseImage); err != nil || strings.TrimSpace(out) == "" {
		c.logf("WARNING: the pause image %s is not loaded: no pod can start until it is (in hack/image: go run . --pause --load)", c.st.PauseImage)
	}
	return nil
}
