package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// untar unpacks the tarball at path into a new directory.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("tar entry %q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("tar entry %q of type %c", h.Name, h.Typeflag)
		}
	}
}

// readIndex reads the OCI layout tarball at path: the one index its index.json names, with
// the tag, and the platforms of that index's images by architecture.
func readIndex(t *testing.T, path, tag string) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	lp, err := layout.FromPath(untar(t, path))
	if err != nil {
		t.Fatalf("%s is no OCI layout: %v", path, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: %+v, want one OCI image index", tm.Manifests)
	}
	if got := tm.Manifests[0].Annotations["io.containerd.image.name"]; got != tag {
		t.Errorf("index.json names %q, want %q", got, tag)
	}
	if got := tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; !strings.HasSuffix(tag, ":"+got) {
		t.Errorf("ref.name %q is not the tag of %s", got, tag)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" {
			t.Fatalf("manifest %s: platform %+v", d.Digest, d.Platform)
		}
		if d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s: media type %s", d.Digest, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := images[d.Platform.Architecture]; dup {
			t.Fatalf("%s twice", d.Platform.Architecture)
		}
		images[d.Platform.Architecture] = img
	}
	return idx, images
}

// layerFile is the content of name in img's only layer.
func layerFile(t *testing.T, img v1.Image, name string) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("no %s in the layer", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestMultiArchIndex: --platforms linux/amd64,linux/arm64 writes one OCI image index with
// an image per platform, each holding its own binary, deterministically.
func TestMultiArchIndex(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	bins := map[string][]byte{
		"amd64": fakeELF(elf.EM_X86_64, ""),
		"arm64": append(fakeELF(elf.EM_AARCH64, ""), "arm64"...),
	}
	for arch, b := range bins {
		if err := os.WriteFile(filepath.Join(dir, "manager-linux-"+arch), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tag := "registry.example.com/genesys-gateway-operator:v1"
	o := options{binary: filepath.Join(dir, "manager-linux-{arch}"), platforms: "linux/amd64, linux/arm64", tag: tag,
		out: filepath.Join(t.TempDir(), "images", "operator-index.tar"), revision: "abc"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	idx, images := readIndex(t, o.out, tag)
	if len(images) != 2 || images["amd64"] == nil || images["arm64"] == nil {
		t.Fatalf("index platforms %v, want linux/amd64 and linux/arm64", images)
	}
	for arch, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "linux" || cf.Architecture != arch || strings.Join(cf.Config.Entrypoint, " ") != "/manager" ||
			cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.revision"] != "abc" {
			t.Errorf("%s config: %s/%s entrypoint %q user %q labels %v", arch, cf.OS, cf.Architecture, cf.Config.Entrypoint, cf.Config.User, cf.Config.Labels)
		}
		if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
			t.Errorf("%s manifest media type %s", arch, mt)
		}
		if m, _ := img.Manifest(); m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s config media type %s", arch, m.Config.MediaType)
		}
		if b := layerFile(t, img, "/manager"); !bytes.Equal(b, bins[arch]) {
			t.Errorf("%s image: /manager is not the %s binary", arch, arch)
		}
	}

	// The same binaries give the same tarball.
	o2 := o
	o2.out = filepath.Join(t.TempDir(), "again.tar")
	if err := run(o2); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(o.out)
	b2, _ := os.ReadFile(o2.out)
	if !bytes.Equal(b1, b2) {
		d1, _ := idx.Digest()
		t.Errorf("two builds, different tarballs (index %s)", d1)
	}
}

func TestMultiArchRefusals(t *testing.T) {
	dir := t.TempDir()
	amd := filepath.Join(dir, "manager-linux-amd64")
	if err := os.WriteFile(amd, fakeELF(elf.EM_X86_64, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	// The amd64 binary where the arm64 one should be.
	if err := os.WriteFile(filepath.Join(dir, "manager-linux-arm64"), fakeELF(elf.EM_X86_64, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	for name, c := range map[string]struct {
		o    options
		want string
	}{
		"wrong binary":   {options{binary: filepath.Join(dir, "manager-linux-{arch}"), platforms: "linux/amd64,linux/arm64"}, "GOARCH=arm64"},
		"no {arch}":      {options{binary: amd, platforms: "linux/amd64,linux/arm64"}, "{arch}"},
		"not linux":      {options{binary: amd, platforms: "windows/amd64"}, "not linux/ARCH"},
		"variant":        {options{binary: amd, platforms: "linux/arm/v7"}, "not linux/ARCH"},
		"twice":          {options{binary: amd, platforms: "linux/amd64,linux/amd64"}, "twice"},
		"no platform":    {options{binary: amd, platforms: ","}, "names no platform"},
		"missing binary": {options{binary: filepath.Join(dir, "nope-{arch}"), platforms: "linux/amd64"}, "nope-amd64"},
	} {
		c.o.tag, c.o.out = operatorTag, out
		if err := run(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused build left %s", out)
	}
}

// TestMultiArchPause cross-compiles the real pause program for amd64 and arm64 (GOARCH
// only, no emulation; a few seconds cold, skipped with -short) into one index.
func TestMultiArchPause(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles ./hack/image/pause twice")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out := filepath.Join(t.TempDir(), "pause-index.tar")
	if err := run(options{pause: true, platforms: "linux/amd64,linux/arm64", tag: pauseTag, out: out}); err != nil {
		t.Fatal(err)
	}
	_, images := readIndex(t, out, pauseTag)
	for _, arch := range []string{"amd64", "arm64"} {
		img := images[arch]
		if img == nil {
			t.Fatalf("no linux/%s image: %v", arch, images)
		}
		bin := writeFile(t, "pause-"+arch, layerFile(t, img, "/pause"))
		if err := checkStatic(bin, arch); err != nil {
			t.Errorf("linux/%s: %v", arch, err)
		}
	}
}
