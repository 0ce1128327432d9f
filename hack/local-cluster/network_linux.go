package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// bridge creates the pod bridge, and routes the Service range through it from the bridge's
// address: kube-proxy rewrites a host connection to a ClusterIP towards a pod, and without
// this route the host would pick its uplink's address as the source, which the pod's reply
// cannot reach. The route goes with the bridge when down deletes it.
func (c *cluster) bridge() error {
	if err := c.st.record(func() { c.st.Bridge = bridgeName }); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", bridgeCIDR, "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
		{"route", "add", serviceCIDR, "dev", bridgeName, "src", bridgeIP},
	} {
		if _, err := run(30*time.Second, "ip", args...); err != nil {
			return err
		}
	}
	if _, ok := readSysctl("net.bridge.bridge-nf-call-iptables"); !ok {
		_, _ = run(30*time.Second, "modprobe", "br_netfilter")
	}
	c.logf("bridge %s %s up; Service range %s routed through it", bridgeName, bridgeCIDR, serviceCIDR)
	return nil
}

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
