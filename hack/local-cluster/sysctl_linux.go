package main

import (
	"fmt"
	"os"
	"strings"
)

// watchedSysctls are snapshotted before up changes anything and written back by down when
// they differ: up sets the first ones; the bridge plugin sets ip_forward too; kubelet sets
// the vm/kernel ones (protectKernelDefaults is false); kube-proxy is configured to leave
// route_localnet and conntrack alone, but they are watched all the same.
var watchedSysctls = []string{
	"net.ipv4.ip_forward",
	"net.bridge.bridge-nf-call-iptables",
	"net.bridge.bridge-nf-call-ip6tables",
	"net.ipv6.conf.all.forwarding",
	"net.ipv6.conf.default.forwarding",
	"net.ipv4.conf.all.route_localnet",
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
	"net.netfilter.nf_conntrack_max",
	"net.netfilter.nf_conntrack_tcp_timeout_established",
	"net.netfilter.nf_conntrack_tcp_timeout_close_wait",
	"net.netfilter.nf_conntrack_tcp_be_liberal",
	"net.netfilter.nf_conntrack_udp_timeout",
	"net.netfilter.nf_conntrack_udp_timeout_stream",
}

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

// setSysctl writes a sysctl, recording its previous value first if not yet recorded.
func (c *cluster) setSysctl(name, value string) error {
	prev, ok := readSysctl(name)
	if !ok {
		return fmt.Errorf("sysctl %s does not exist on this kernel (%s)", name, sysctlFile(name))
	}
	known := false
	for _, s := range c.st.Sysctls {
		known = known || s.Name == name
	}
	if !known {
		if err := c.st.record(func() { c.st.Sysctls = append(c.st.Sysctls, sysctlValue{Name: name, Prev: prev}) }); err != nil {
			return err
		}
	}
	if prev == value {
		return nil
	}
	return writeSysctl(name, value)
}
