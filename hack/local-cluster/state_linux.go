package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const stateFileName = "state.json"

// state is the record of one up: what it started and what it changed on the host, written
// to <state>/state.json before (or right as) each change is made, so that down can undo
// exactly that, also after an up that failed half-way.
type state struct {
	file string

	Version    int       `json:"version"`
	Dir        string    `json:"dir"`
	Bin        string    `json:"bin"`
	NodeName   string    `json:"nodeName"`
	PauseImage string    `json:"pauseImage"`
	Started    time.Time `json:"started"`
	Ready      bool      `json:"ready"`

	// PackagesInstalled are the Debian packages up installed; down leaves them installed.
	PackagesInstalled []string `json:"packagesInstalled,omitempty"`
	// BaselineMounts are the mount points there were before up; down unmounts only others.
	BaselineMounts []string `json:"baselineMounts"`
	// Paths are folders outside the state folder that up or the components may create, with
	// whether each existed before up; down removes those that did not.
	Paths []pathRecord `json:"paths,omitempty"`
	// Sysctls hold the values from before up of every sysctl up sets or the components are
	// known to set; down writes back each one that differs.
	Sysctls []sysctlValue `json:"sysctls,omitempty"`
	// Chains are our iptables/ip6tables chains and their jump rules, recorded before made.
	Chains []iptChain `json:"iptablesChains,omitempty"`
	// KubeChains are the KUBE-* chains (as cmd/table/chain) there were before up; down
	// removes the others that kube-proxy --cleanup leaves (kubelet's, for one).
	KubeChains []string `json:"kubeChainsBefore,omitempty"`
	// Bridge is the pod bridge up created (recorded before it is made).
	Bridge string `json:"bridge,omitempty"`
	// CgroupDirs are kubelet's top cgroups (one per hierarchy), none of which existed before.
	CgroupDirs []string `json:"cgroupDirs,omitempty"`
	// NfacctCounters are the nfacct counters kube-proxy creates that did not exist before.
	NfacctCounters []string `json:"nfacctCounters,omitempty"`
	// Processes are the daemons up started, in start order.
	Processes []proc `json:"processes,omitempty"`
}

type pathRecord struct {
	Path    string `json:"path"`
	Existed bool   `json:"existed"`
}

type sysctlValue struct {
	Name string `json:"name"`
	Prev string `json:"prev"`
}

// proc is a started daemon. StartTime (field 22 of /proc/<pid>/stat) tells it apart from
// a later process that got the same PID.
type proc struct {
	Name      string   `json:"name"`
	PID       int      `json:"pid"`
	StartTime uint64   `json:"startTime"`
	Cmd       []string `json:"cmd"`
	Log       string   `json:"log"`
}

func loadState(dir string) (*state, error) {
	f := filepath.Join(dir, stateFileName)
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	s := &state{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	s.file = f
	return s, nil
}

// save writes the record atomically (temporary file, fsync, rename).
func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}

// record applies change to the record and saves it; up stops if it cannot.
func (s *state) record(change func()) error {
	change()
	if err := s.save(); err != nil {
		return fmt.Errorf("recording in %s: %w", s.file, err)
	}
	return nil
}
