package bundle

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits of what Unpack takes from an archive: a bundle comes from
// someone else's machine and is read as hostile.
const (
	MaxFiles     = 100_000
	MaxTotalSize = 8 << 30 // octets, all files together
)

// Unpack extracts the bundle archive into dest, which must not exist or
// be empty, and returns its manifest and the bundle's top folder. It
// takes only folders and regular files, every one under one top folder:
// an absolute name, a ".." element, a link, a device or anything else is
// refused and nothing more is extracted (what was is left for the caller
// to remove). Files are created through an os.Root on dest, so nothing
// lands outside it whatever the names.
func Unpack(archive, dest string) (Manifest, string, error) {
	var man Manifest
	f, err := os.Open(archive)
	if err != nil {
		return man, "", err
	}
	defer f.Close()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return man, "", err
	}
	if ents, err := os.ReadDir(dest); err != nil {
		return man, "", err
	} else if len(ents) > 0 {
		return man, "", fmt.Errorf("bundle: unpack into %s: not empty", dest)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return man, "", err
	}
	defer root.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return man, "", fmt.Errorf("bundle: %s: %w", archive, err)
	}
	tr := tar.NewReader(z)
	top := ""
	var files int
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return man, "", fmt.Errorf("bundle: %s: %w", archive, err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return man, "", fmt.Errorf("bundle: %s: entry %q refused: %w", archive, h.Name, err)
		}
		first, _, _ := strings.Cut(name, "/")
		if top == "" {
			top = first
		} else if first != top {
			return man, "", fmt.Errorf("bundle: %s: entry %q refused: outside the bundle's folder %s", archive, h.Name, top)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return man, "", err
			}
		case tar.TypeReg:
			files++
			total += h.Size
			if files > MaxFiles || h.Size < 0 || total > MaxTotalSize {
				return man, "", fmt.Errorf("bundle: %s: more than %d files or %d octets: refused", archive, MaxFiles, int64(MaxTotalSize))
			}
			if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
				return man, "", err
			}
			if err := extract(root, name, tr, h.Size); err != nil {
				return man, "", fmt.Errorf("bundle: %s: %s: %w", archive, h.Name, err)
			}
		default:
			return man, "", fmt.Errorf("bundle: %s: entry %q refused: a %s, and a bundle holds only folders and regular files", archive, h.Name, typeName(h.Typeflag))
		}
	}
	if top == "" {
		return man, "", fmt.Errorf("bundle: %s: empty", archive)
	}
	b, err := root.ReadFile(top + "/manifest.json")
	if err != nil {
		return man, "", fmt.Errorf("bundle: %s: no manifest.json: %w", archive, err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return man, "", fmt.Errorf("bundle: %s: manifest.json: %w", archive, err)
	}
	if man.Format != Format {
		return man, "", fmt.Errorf("bundle: %s: format %q, this getlab reads %q", archive, man.Format, Format)
	}
	// Every file as the manifest lists it: a bundle damaged on its way is
	// said before it is replayed.
	for _, mf := range man.Files {
		// Through the root: a hostile manifest's path reads nothing
		// outside the bundle either.
		if size, sum, err := hashIn(root, top, mf.Path); err != nil || size != mf.Size || sum != mf.SHA256 {
			return man, "", fmt.Errorf("bundle: %s: %s is not as the manifest lists it (damaged?)", archive, mf.Path)
		}
	}
	return man, filepath.Join(dest, top), nil
}

// hashIn is the size and SHA-256 of file p of the bundle's folder top.
func hashIn(root *os.Root, top, p string) (int64, string, error) {
	if _, err := entryName(p); err != nil {
		return 0, "", err
	}
	f, err := root.Open(top + "/" + p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// entryName checks an archive entry's name: relative, no "." or ".."
// element, no backslash or NUL, and returns it without a trailing slash.
func entryName(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "\\\x00") {
		return "", errors.New("not a plain relative path")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("an absolute path")
	}
	n := strings.TrimSuffix(name, "/")
	for _, el := range strings.Split(n, "/") {
		switch el {
		case "..":
			return "", errors.New("a path with a \"..\" element (it would land outside the folder unpacked into)")
		case ".", "":
			return "", errors.New("not a clean path")
		}
	}
	return n, nil
}

func extract(root *os.Root, name string, r io.Reader, size int64) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%d of %d octets", n, size)
	}
	return err
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("entry of type %q", t)
}
