package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// debianPackages are the node runtime's packages, installed when missing.
var debianPackages = []string{"containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "socat"}

// hostTools must be on the host once the packages are in.
var hostTools = []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip6tables", "conntrack", "ip"}

func dpkgInstalled(pkg string) bool {
	out, err := run(30*time.Second, "dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg)
	return err == nil && strings.HasPrefix(out, "ii")
}

// installPackages installs the missing Debian packages and records which; down does not
// remove them.
func (c *cluster) installPackages() error {
	var missing []string
	for _, p := range debianPackages {
		if !dpkgInstalled(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		c.logf("Debian packages present: %s", strings.Join(debianPackages, " "))
		return nil
	}
	if err := c.st.record(func() { c.st.PackagesInstalled = missing }); err != nil {
		return err
	}
	c.logf("installing Debian packages %s (they stay installed after down)", strings.Join(missing, " "))
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	install := func() error {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(hostEnv(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 20))
		}
		return nil
	}
	if err := install(); err != nil {
		c.logf("apt-get install failed; running apt-get update and trying again")
		if out, err := run(5*time.Minute, "apt-get", "update"); err != nil {
			return fmt.Errorf("%w\n%s", err, tail(out, 20))
		}
		if err := install(); err != nil {
			return err
		}
	}
	c.logf("installed %s", strings.Join(missing, " "))
	return nil
}

func (c *cluster) postInstallChecks() error {
	for _, t := range hostTools {
		if _, err := lookPath(t); err != nil {
			return err
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if !exists(filepath.Join(cniBinDir, p)) {
			return fmt.Errorf("CNI plugin %s missing from %s (package containernetworking-plugins)", p, cniBinDir)
		}
	}
	// A containerd started by the package (there is no systemd here, but a host may have one)
	// would own the socket.
	if socketLive(containerdSocket) {
		return fmt.Errorf("a containerd serves %s (started by its package?): stop it first", containerdSocket)
	}
	return nil
}
