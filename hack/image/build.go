package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one file or directory of the image's only layer. Name is absolute (/manager).
type entry struct {
	Name     string
	Mode     int64 // permission bits plus 01000 (sticky) as in a tar header
	Dir      bool
	UID, GID int
	Data     []byte
}

// spec is everything an image is built from; the same spec gives the same image, bit for bit.
type spec struct {
	Entries    []entry
	Entrypoint []string
	User       string
	Arch       string
	Env        []string
	Labels     map[string]string
	// Created is the one timestamp used everywhere: tar entries, config and history.
	Created time.Time
	// OCI gives the image OCI media types (manifest, config, layer), as the images of an OCI
	// image index have; without it they are Docker's (docker load, the single-image tarball).
	OCI bool
}

// nonroot's /etc/passwd and /etc/group, as in gcr.io/distroless/static:nonroot.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
)

// defaultEnv is distroless's PATH; SSL_CERT_FILE is added when a CA bundle is.
var defaultEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// operatorSpec is the operator (and chat runner) image: /manager run as nonroot 65532.
func operatorSpec(binary, caBundle []byte, arch string, labels map[string]string, created time.Time) spec {
	entries := []entry{
		{Name: "/etc", Dir: true, Mode: 0o755},
		{Name: "/etc/group", Mode: 0o644, Data: []byte(group)},
		{Name: "/etc/passwd", Mode: 0o644, Data: []byte(passwd)},
	}
	env := append([]string(nil), defaultEnv...)
	if caBundle != nil {
		entries = append(entries,
			entry{Name: "/etc/ssl", Dir: true, Mode: 0o755},
			entry{Name: "/etc/ssl/certs", Dir: true, Mode: 0o755},
			entry{Name: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: caBundle})
		env = append(env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	}
	entries = append(entries,
		entry{Name: "/home", Dir: true, Mode: 0o755},
		entry{Name: "/home/nonroot", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
		entry{Name: "/manager", Mode: 0o755, Data: binary},
		entry{Name: "/tmp", Dir: true, Mode: 0o1777},
	)
	return spec{
		Entries:    entries,
		Entrypoint: []string{"/manager"},
		User:       "65532:65532",
		Arch:       arch,
		Env:        env,
		Labels:     labels,
		Created:    created,
	}
}

// pauseSpec is the pod sandbox image: /pause run as 65535, like registry.k8s.io/pause.
func pauseSpec(binary []byte, arch string, labels map[string]string, created time.Time) spec {
	return spec{
		Entries:    []entry{{Name: "/pause", Mode: 0o755, Data: binary}},
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
		Arch:       arch,
		Labels:     labels,
		Created:    created,
	}
}

// layerTar writes the entries as an uncompressed tar, names relative to / (manager, tmp/),
// owned by the given ids, every time set to s.Created.
func layerTar(s spec) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range s.Entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.Name, "/"),
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: s.Created,
		}
		if e.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", e.Name, err)
		}
		if !e.Dir {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildImage is empty.Image plus one layer and a config made from s.
func buildImage(s spec) (v1.Image, error) {
	data, err := layerTar(s)
	if err != nil {
		return nil, err
	}
	var layerOpts []tarball.LayerOption
	if s.OCI {
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, layerOpts...)
	if err != nil {
		return nil, err
	}
	cf, err := empty.Image.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	created := v1.Time{Time: s.Created.UTC()}
	cf.Created = created
	cf.OS = "linux"
	cf.Architecture = s.Arch
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = nil
	cf.Config.User = s.User
	cf.Config.WorkingDir = "/"
	cf.Config.Env = s.Env
	cf.Config.Labels = s.Labels
	start := empty.Image
	if s.OCI {
		start = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	base, err := mutate.ConfigFile(start, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "go run ./hack/image",
			Comment:   "static binary " + s.Entrypoint[0],
		},
	})
}

// goarchMachine is the ELF machine a binary for each GOARCH has.
var goarchMachine = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
	"loong64": elf.EM_LOONGARCH,
}

// errNotStatic is wrapped by checkStatic's errors for dynamically linked binaries.
var errNotStatic = errors.New("binary is not statically linked")

// checkStatic fails unless path is an ELF executable for arch with no program interpreter
// and no shared libraries: a scratch image has no dynamic loader or libc.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux ELF binary (%v); build it with GOOS=linux", path, err)
	}
	defer f.Close()
	if want, ok := goarchMachine[arch]; ok && f.Machine != want {
		return fmt.Errorf("%s is built for %v, not %s; build it with GOARCH=%s or pass --arch", path, f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp, _ := io.ReadAll(io.LimitReader(p.Open(), 4096))
		return fmt.Errorf("%w: %s asks for the interpreter %s; rebuild it with CGO_ENABLED=0 (e.g. CGO_ENABLED=0 go build -o %s .)",
			errNotStatic, path, strings.TrimRight(string(interp), "\x00"), path)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("%s: reading its dynamic section: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("%w: %s needs %s; rebuild it with CGO_ENABLED=0", errNotStatic, path, strings.Join(libs, ", "))
	}
	return nil
}

// readStatic checks that path is a static binary for arch and returns its bytes.
func readStatic(path, arch string) ([]byte, error) {
	if err := checkStatic(path, arch); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
