package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cleanup stops everything in order (runners, operator, simulator, control plane) and
// removes the work directory unless --keep.
func (d *demo) cleanup() error {
	d.out.raw("\n==> Cleaning up\n")
	if d.stopKubelet != nil {
		d.stopKubelet()
	}
	d.sup.stopAll(d.out.printf)
	if d.hook != nil {
		d.hook.close()
	}
	if d.net != nil {
		if n := d.net.forwarded.Load(); n > 0 {
			d.out.printf("the pod network stand-in carried %d calls forwarded between runners", n)
		}
		d.net.close()
	}
	var errs []error
	if d.cp != nil {
		start := time.Now()
		if err := d.cp.stop(); err != nil {
			errs = append(errs, err)
			d.out.printf("stopping kube-apiserver and etcd: %v", err)
		} else {
			d.out.printf("stopped kube-apiserver and etcd (%s)", time.Since(start).Round(100*time.Millisecond))
		}
	}
	if d.o.keep {
		d.out.printf("kept %s (--keep): kubeconfigs, logs, control plane data", d.o.workdir)
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(d.o.workdir); err != nil {
		errs = append(errs, fmt.Errorf("removing the work directory: %w", err))
	} else {
		d.out.printf("removed %s: kubeconfigs, logs, control plane data", d.o.workdir)
	}
	return errors.Join(errs...)
}

// printLogTails shows the end of each log after a failure, since the logs go with the work
// directory.
func (d *demo) printLogTails() {
	logs, _ := filepath.Glob(filepath.Join(d.o.workdir, "*.log"))
	slices.Sort(logs)
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		lines = lines[max(0, len(lines)-20):]
		d.out.raw(fmt.Sprintf("\n--- last lines of %s\n%s\n", filepath.Base(path), strings.Join(lines, "\n")))
	}
}
