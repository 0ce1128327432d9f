// Command image builds the operator's container image (which is also the chat runner's) and
// a pod sandbox ("pause") image without Docker, with go-containerregistry, for local
// clusters that cannot pull images. It is a Go module of its own (hack/image/go.mod), so
// go-containerregistry stays out of the operator's module; run it from this folder (make
// images does), with absolute paths or paths relative to it:
//
//	CGO_ENABLED=0 go build -o bin/manager .
//	cd hack/image && go run . --binary ../../bin/manager --tag localhost/genesys-gateway-operator:e2e --out ../../bin/images/operator.tar
//	cd hack/image && go run . --pause --out ../../bin/images/pause.tar [--load]
//
// Each image is empty.Image plus one layer. The operator's holds /manager (0755), a
// writable /tmp (1777) and distroless-like /etc/passwd and /etc/group for nonroot 65532;
// its config runs ["/manager"] as 65532:65532 in /, like the Dockerfile's
// gcr.io/distroless/static:nonroot image. The pause image holds /pause (the static program
// in hack/image/pause, built here with CGO_ENABLED=0 unless --binary is given) and runs it
// as 65535:65535. The output is a docker-compatible tarball (docker load, ctr import).
//
// --platforms linux/amd64,linux/arm64 builds one image per platform (each from its own
// cross-compiled binary: --binary with {arch}, e.g. ../../bin/manager-linux-{arch}; --pause
// compiles the pause program for each) into an OCI image index, written as the tarball of an
// OCI image layout (make images-multiarch). The images have no base layers, so nothing but
// the Go toolchain's cross-compilation is needed for another architecture (no emulation).
//
// Output is deterministic: every timestamp (tar entries, config created, history) is the
// Unix epoch 0, or $SOURCE_DATE_EPOCH when that is set, never the binary's mtime, so the
// same binary gives the same image digest. --load imports the tarball into containerd's
// k8s.io namespace (the CRI's) with ctr; pods then use the tag with imagePullPolicy: Never.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	operatorTag = "localhost/genesys-gateway-operator:e2e"
	pauseTag    = "localhost/pause:e2e"
	sourceURL   = "https://github.com/gatewayops/genesys-gateway-operator"
	pausePkg    = "github.com/gatewayops/genesys-gateway-operator/hack/image/pause"
)

type labelFlag map[string]string

func (l labelFlag) String() string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k+"="+l[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (l labelFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	l[k] = val
	return nil
}

type options struct {
	binary, tag, out, arch, platforms, caBundle, revision string
	pause, load                                           bool
	ctrAddress, ctrNamespace                              string
	labels                                                labelFlag
}

func main() {
	o := options{labels: labelFlag{}}
	flag.StringVar(&o.binary, "binary", "", "static linux binary to put in the image (/manager; /pause with --pause); required unless --pause")
	flag.StringVar(&o.tag, "tag", "", "image reference written into the tarball (default "+operatorTag+", or "+pauseTag+" with --pause)")
	flag.StringVar(&o.out, "out", "", "tarball to write (default bin/images/operator.tar, or bin/images/pause.tar with --pause)")
	flag.BoolVar(&o.pause, "pause", false, "build the pause (pod sandbox) image; without --binary, compiles "+pausePkg+" with CGO_ENABLED=0")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "image architecture; the binary must match it")
	flag.StringVar(&o.platforms, "platforms", "", "build one image per platform (comma-separated, e.g. linux/amd64,linux/arm64) into an OCI image index, written as an OCI layout tarball; --binary names each platform's binary with {arch} (e.g. bin/manager-linux-{arch}); --arch is ignored")
	flag.StringVar(&o.caBundle, "ca-bundle", "", "PEM bundle to add as /etc/ssl/certs/ca-certificates.crt (operator image; distroless has one, this image has none unless given)")
	flag.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision label (e.g. $(git rev-parse HEAD))")
	flag.Var(o.labels, "label", "extra KEY=VALUE image label (repeatable)")
	flag.BoolVar(&o.load, "load", false, "import the tarball into containerd with `ctr -n k8s.io images import`")
	flag.StringVar(&o.ctrAddress, "ctr-address", "", "containerd socket for --load (default: ctr's, $CONTAINERD_ADDRESS or /run/containerd/containerd.sock)")
	flag.StringVar(&o.ctrNamespace, "ctr-namespace", "k8s.io", "containerd namespace for --load (k8s.io is the CRI's)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage (in hack/image): go run . [--pause] [--binary PATH] [--tag REF] [--out FILE] [--load]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "image: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.tag == "" {
		o.tag = operatorTag
		if o.pause {
			o.tag = pauseTag
		}
	}
	if o.out == "" {
		o.out = filepath.Join("bin", "images", "operator.tar")
		if o.pause {
			o.out = filepath.Join("bin", "images", "pause.tar")
		}
	}
	ref, err := name.NewTag(o.tag)
	if err != nil {
		return fmt.Errorf("--tag %q: %w", o.tag, err)
	}
	created, err := timestamp()
	if err != nil {
		return err
	}
	if o.load { // fail before building, not after
		if _, err := exec.LookPath("ctr"); err != nil {
			return fmt.Errorf("--load needs ctr, containerd's CLI, in PATH (apt-get install containerd): %w", err)
		}
	}

	if o.platforms != "" {
		if err := writeIndex(o, ref, created); err != nil {
			return err
		}
	} else {
		img, err := o.image(o.arch, o.binary, created, false)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		tmp := o.out + ".tmp"
		if err := tarball.WriteToFile(tmp, ref, img); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", o.out, err)
		}
		if err := os.Rename(tmp, o.out); err != nil {
			return err
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		fi, err := os.Stat(o.out)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d bytes): %s %s/%s %s\n", o.out, fi.Size(), ref.Name(), "linux", o.arch, digest)
	}

	if o.load {
		args := []string{}
		if o.ctrAddress != "" {
			args = append(args, "--address", o.ctrAddress)
		}
		args = append(args, "-n", o.ctrNamespace, "images", "import", o.out)
		cmd := exec.Command("ctr", args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ctr %s: %w", strings.Join(args, " "), err)
		}
		fmt.Printf("loaded %s into containerd namespace %s (use imagePullPolicy: Never or IfNotPresent)\n", ref.Name(), o.ctrNamespace)
	}
	return nil
}

// image builds the image for arch from the binary at binPath (for --pause without one,
// compiles the pause program for arch); oci gives it OCI media types (for an index).
func (o options) image(arch, binPath string, created time.Time, oci bool) (v1.Image, error) {
	if o.pause && binPath == "" {
		dir, err := os.MkdirTemp("", "pause-build-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		binPath = filepath.Join(dir, "pause")
		if err := buildPause(binPath, arch); err != nil {
			return nil, err
		}
	}
	if binPath == "" {
		return nil, fmt.Errorf("--binary is required (e.g. CGO_ENABLED=0 go build -o bin/manager . && cd hack/image && go run . --binary ../../bin/manager)")
	}
	bin, err := readStatic(binPath, arch)
	if err != nil {
		return nil, err
	}

	labels := map[string]string{
		"org.opencontainers.image.source":   sourceURL,
		"org.opencontainers.image.url":      sourceURL,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.vendor":   "gatewayops",
	}
	if o.revision != "" {
		labels["org.opencontainers.image.revision"] = o.revision
	}
	var s spec
	if o.pause {
		labels["org.opencontainers.image.title"] = "pause"
		labels["org.opencontainers.image.description"] = "Pod sandbox: blocks until SIGTERM/SIGINT and reaps zombies (local clusters)"
		for k, v := range o.labels {
			labels[k] = v
		}
		s = pauseSpec(bin, arch, labels, created)
	} else {
		labels["org.opencontainers.image.title"] = "genesys-gateway-operator"
		labels["org.opencontainers.image.description"] = "Genesys gateway operator; also the chat runner image (manager chat-runner)"
		for k, v := range o.labels {
			labels[k] = v
		}
		var ca []byte
		if o.caBundle != "" {
			if ca, err = os.ReadFile(o.caBundle); err != nil {
				return nil, fmt.Errorf("--ca-bundle: %w", err)
			}
		}
		s = operatorSpec(bin, ca, arch, labels, created)
	}
	s.OCI = oci
	img, err := buildImage(s)
	if err != nil {
		return nil, fmt.Errorf("building the %s image: %w", arch, err)
	}
	return img, nil
}

// timestamp is the single time written into the image: epoch 0, or $SOURCE_DATE_EPOCH.
func timestamp() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// buildPause compiles hack/image/pause (pausePkg, of this module) as a static linux binary for
// arch.
func buildPause(out, arch string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", out, pausePkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run this in hack/image, whose module holds it, or pass --binary): %w", pausePkg, err)
	}
	return nil
}
