package main

import (
	"fmt"
	"os"
	"strings"
)

// componentPaths are folders outside the state folder that the daemons create at fixed
// places (containerd's state and shims, CNI's cache, network namespaces, kubelet's log
// links...). down removes those that did not exist before up.
var componentPaths = []string{
	containerdState,
	"/run/netns",
	"/run/kubernetes",
	"/var/lib/cni",
	"/var/log/containers",
	"/var/log/pods",
	"/var/lib/kubelet",
	"/var/lib/containerd",
	"/opt/containerd",
	"/etc/kubernetes",
}

// snapshotHost records, before any change, the sysctls, the component folders and the nfacct
// counters as they are.
func (c *cluster) snapshotHost() error {
	return c.st.record(func() {
		for _, s := range watchedSysctls {
			if v, ok := readSysctl(s); ok {
				c.st.Sysctls = append(c.st.Sysctls, sysctlValue{Name: s, Prev: v})
			}
		}
		for _, p := range componentPaths {
			c.st.Paths = append(c.st.Paths, pathRecord{Path: p, Existed: exists(p)})
		}
		for _, cmd := range []string{"iptables", "ip6tables"} {
			chains, _ := iptablesChains(cmd)
			for table, names := range chains {
				for _, n := range names {
					if strings.HasPrefix(n, "KUBE-") {
						c.st.KubeChains = append(c.st.KubeChains, cmd+"/"+table+"/"+n)
					}
				}
			}
		}
		for _, n := range kubeProxyNfacctCounters {
			if ok, err := nfacctExists(n); err == nil && !ok {
				c.st.NfacctCounters = append(c.st.NfacctCounters, n)
			}
		}
	})
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
