package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeELF is a minimal little-endian ELF64 executable header for machine, with a PT_INTERP
// program header (a dynamically linked binary) when interp is set. debug/elf reads it like
// a real binary; it never runs.
func fakeELF(machine elf.Machine, interp string) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	b.Write(ident[:])
	phnum := uint16(0)
	if interp != "" {
		phnum = 1
	}
	const ehsize, phentsize = 64, 56
	// Writing fixed-size values to a bytes.Buffer fails only on a value of no fixed size.
	put := func(v any) {
		if err := binary.Write(&b, le, v); err != nil {
			panic(err)
		}
	}
	put(uint16(elf.ET_EXEC))
	put(uint16(machine))
	put(uint32(elf.EV_CURRENT))
	put(uint64(0x401000)) // entry
	put(uint64(ehsize))   // phoff
	put(uint64(0))        // shoff
	put(uint32(0))        // flags
	put(uint16(ehsize))
	put(uint16(phentsize))
	put(phnum)
	put(uint16(64)) // shentsize
	put(uint16(0))  // shnum
	put(uint16(0))  // shstrndx
	if interp != "" {
		s := append([]byte(interp), 0)
		put(uint32(elf.PT_INTERP))
		put(uint32(elf.PF_R))
		put(uint64(ehsize + phentsize)) // offset
		put(uint64(0))                  // vaddr
		put(uint64(0))                  // paddr
		put(uint64(len(s)))             // filesz
		put(uint64(len(s)))             // memsz
		put(uint64(1))                  // align
		b.Write(s)
	}
	b.WriteString("tiny static test binary payload")
	return b.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

type file struct {
	hdr  *tar.Header
	data []byte
}

// readImage reads a tarball back with go-containerregistry and returns its config and the
// files of its single layer by absolute path.
func readImage(t *testing.T, path, tag string) (v1.Image, *v1.ConfigFile, map[string]file) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		t.Fatalf("reading %s back: %v", path, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = file{h, data}
	}
	return img, cf, files
}

func TestOperatorImage(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	bin := fakeELF(elf.EM_X86_64, "")
	binPath := writeFile(t, "manager", bin)
	tag := "localhost/genesys-gateway-operator:test"
	out := filepath.Join(t.TempDir(), "images", "operator.tar")
	if err := run(options{binary: binPath, tag: tag, out: out, arch: "amd64", revision: "abc123", labels: labelFlag{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	img, cf, files := readImage(t, out, tag)

	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/manager" {
		t.Errorf("entrypoint %q, want /manager", got)
	}
	if len(cf.Config.Cmd) != 0 {
		t.Errorf("cmd %q, want none", cf.Config.Cmd)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	if cf.Config.WorkingDir != "/" {
		t.Errorf("workdir %q, want /", cf.Config.WorkingDir)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Equal(time.Unix(0, 0)) {
		t.Errorf("created %v, want the epoch", cf.Created.Time)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   sourceURL,
		"org.opencontainers.image.revision": "abc123",
		"x":                                 "y",
	} {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, cf.Config.Labels[k], v)
		}
	}

	m, ok := files["/manager"]
	if !ok {
		t.Fatalf("no /manager in the layer; files: %v", keys(files))
	}
	if m.hdr.Typeflag != tar.TypeReg || m.hdr.FileInfo().Mode() != 0o755 || !bytes.Equal(m.data, bin) {
		t.Errorf("/manager: type %c mode %v, %d bytes; want a 0755 file with the binary", m.hdr.Typeflag, m.hdr.FileInfo().Mode(), len(m.data))
	}
	tmp, ok := files["/tmp"]
	if !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.FileInfo().Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("/tmp: %+v; want a 1777 directory", tmp.hdr)
	}
	pw := string(files["/etc/passwd"].data)
	if !strings.Contains(pw, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot 65532:\n%s", pw)
	}
	if !strings.Contains(string(files["/etc/group"].data), "nonroot:x:65532:") {
		t.Errorf("/etc/group has no nonroot 65532")
	}
	for p, f := range files {
		if !f.hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v, want the epoch", p, f.hdr.ModTime)
		}
	}

	// The same inputs give the same image, bit for bit.
	out2 := filepath.Join(t.TempDir(), "again.tar")
	if err := run(options{binary: binPath, tag: tag, out: out2, arch: "amd64", revision: "abc123", labels: labelFlag{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	img2, _, _ := readImage(t, out2, tag)
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("two builds, two digests: %s, %s", d1, d2)
	}
	b1, _ := os.ReadFile(out)
	b2, _ := os.ReadFile(out2)
	if !bytes.Equal(b1, b2) {
		t.Errorf("two builds, different tarballs")
	}
}

func keys(m map[string]file) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestRejectsNonStatic(t *testing.T) {
	dyn := writeFile(t, "dyn", fakeELF(elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"))
	err := run(options{binary: dyn, tag: operatorTag, out: filepath.Join(t.TempDir(), "x.tar"), arch: "amd64"})
	if !errors.Is(err, errNotStatic) || !strings.Contains(err.Error(), "CGO_ENABLED=0") || !strings.Contains(err.Error(), "ld-linux") {
		t.Errorf("dynamic binary: got %v, want errNotStatic naming the interpreter and CGO_ENABLED=0", err)
	}

	arm := writeFile(t, "arm", fakeELF(elf.EM_AARCH64, ""))
	if err := checkStatic(arm, "amd64"); err == nil || !strings.Contains(err.Error(), "GOARCH=amd64") {
		t.Errorf("arm64 binary for amd64: got %v", err)
	}
	script := writeFile(t, "script", []byte("#!/bin/sh\necho hi\n"))
	if err := checkStatic(script, "amd64"); err == nil || !strings.Contains(err.Error(), "not a Linux ELF") {
		t.Errorf("shell script: got %v", err)
	}
}

// TestPauseImage compiles the pause program (a few seconds cold; skipped with -short),
// wraps it, and checks that it stops on SIGTERM.
func TestPauseImage(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles ./hack/image/pause")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out := filepath.Join(t.TempDir(), "pause.tar")
	if err := run(options{pause: true, tag: pauseTag, out: out, arch: runtime.GOARCH}); err != nil {
		t.Fatal(err)
	}
	_, cf, files := readImage(t, out, pauseTag)
	if strings.Join(cf.Config.Entrypoint, " ") != "/pause" || cf.Config.User != "65535:65535" || cf.Architecture != runtime.GOARCH {
		t.Errorf("config: entrypoint %q user %q arch %q", cf.Config.Entrypoint, cf.Config.User, cf.Architecture)
	}
	p, ok := files["/pause"]
	if !ok || p.hdr.FileInfo().Mode() != 0o755 {
		t.Fatalf("/pause missing or not 0755: %v", keys(files))
	}
	bin := writeFile(t, "pause", p.data)
	if err := checkStatic(bin, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	cmd := exec.Command(bin)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not PID 1, it warns once its signal handlers are in place.
	line, _ := bufio.NewReader(stderr).ReadString('\n')
	if !strings.Contains(line, "first process") {
		t.Fatalf("pause's first line %q, want its not-PID-1 warning", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pause on SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill() // best effort: the test fails either way
		t.Fatal("pause did not stop on SIGTERM")
	}
}
