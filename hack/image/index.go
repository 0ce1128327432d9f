package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archPlaceholder in --binary stands for each platform's architecture with --platforms.
const archPlaceholder = "{arch}"

// parsePlatforms reads --platforms: linux/ARCH, comma-separated, each once. The images are
// a static binary on no base (no base image to find per platform), so any GOARCH the Go
// toolchain cross-compiles to works; only linux, and no variants (linux/arm/v7).
func parsePlatforms(list string) ([]string, error) {
	var archs []string
	seen := map[string]bool{}
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		parts := strings.Split(p, "/")
		if len(parts) != 2 || parts[0] != "linux" || parts[1] == "" {
			return nil, fmt.Errorf("--platforms: %q is not linux/ARCH (e.g. linux/arm64; no variants)", p)
		}
		if seen[parts[1]] {
			return nil, fmt.Errorf("--platforms: %s twice", p)
		}
		seen[parts[1]] = true
		archs = append(archs, parts[1])
	}
	if len(archs) == 0 {
		return nil, fmt.Errorf("--platforms %q names no platform", list)
	}
	return archs, nil
}

// writeIndex builds one image per platform of o.platforms into an OCI image index and
// writes it to o.out as a tarball of an OCI image layout (oci-layout, index.json, blobs/),
// which skopeo (oci-archive:), ctr images import and docker load (25 and later) read. The
// layout's index.json names the index with o.tag (org.opencontainers.image.ref.name and
// io.containerd.image.name).
func writeIndex(o options, ref name.Tag, created time.Time) error {
	archs, err := parsePlatforms(o.platforms)
	if err != nil {
		return err
	}
	if o.binary != "" && len(archs) > 1 && !strings.Contains(o.binary, archPlaceholder) {
		return fmt.Errorf("--binary %q: with several --platforms, name each platform's binary with %s (e.g. bin/manager-linux-%s)", o.binary, archPlaceholder, archPlaceholder)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var summary []string
	for _, arch := range archs {
		img, err := o.image(arch, strings.ReplaceAll(o.binary, archPlaceholder, arch), created, true)
		if err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		summary = append(summary, fmt.Sprintf("linux/%s %s", arch, d))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}

	dir, err := os.MkdirTemp("", "oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.Name(),
	})); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	tmp := o.out + ".tmp"
	if err := tarDir(dir, tmp, created); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", o.out, err)
	}
	if err := os.Rename(tmp, o.out); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes): %s OCI image index %s: %s\n", o.out, fi.Size(), ref.Name(), digest, strings.Join(summary, ", "))
	return nil
}

// tarDir writes the files under dir into the tarball out, in lexical order, owned by root,
// every time set to mtime: the same files give the same tarball.
func tarDir(dir, out string, mtime time.Time) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime}
		if e.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
