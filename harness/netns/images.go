package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/topo"
)

// Image is what the netns runtime runs for a topology image name. The
// project's images (images/) map to binaries built from this tree, so the
// same topology file runs as containers or as namespaces.
type Image struct {
	// Entrypoint is the binary name in the bin directory; "" means the image
	// has no process of its own (the node's holder keeps it alive, like a
	// container running `sleep infinity`).
	Entrypoint string
	// Cmd is the default argument list when the node gives no cmd.
	Cmd []string
}

// Images are the images the netns runtime knows. The tag is ignored:
// getlab/getvpnd:dev and getlab/getvpnd:v0.1.0 are the same tree here.
var Images = map[string]Image{
	"getlab/getvpnd": {Entrypoint: "getvpnd", Cmd: []string{"--config", "/etc/getvpnd/getvpnd.yaml"}},
	"getlab/host":    {},
	// The GM swarm: its node's cmd gives the flags (the KS, the key, the
	// number of members and their prefix).
	"getlab/gm-swarm": {Entrypoint: "gm-swarm"},
	// The impairment node (harness/wire): its node's cmd gives the flags
	// (--rules); with none it forwards untouched until rules are set
	// through its control socket.
	"getlab/wire": {Entrypoint: "getlab-wire"},
	// A static multicast router (harness/mroute): its node's cmd gives
	// smcrouted's flags, its routes are the smcroute.conf the node binds.
	// The kernel here cannot route multicast itself (no CONFIG_IP_MROUTE).
	"getlab/router": {Entrypoint: "getlab-mrouter"},
}

func lookupImage(name string) (Image, bool) {
	repo := name
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo = name[:i]
	}
	img, ok := Images[repo]
	return img, ok
}

// nodeArgv is the command line of a node's process: the image entrypoint
// followed by the node's cmd (or the image's default), as a container
// runtime composes ENTRYPOINT and CMD. An image the runtime does not know
// runs the node's cmd as a host command, which is how another vendor's
// daemon takes a node's place. nil means the node runs no process.
func nodeArgv(n *topo.Node, binDir string) ([]string, error) {
	var cmd []string
	if n.Cmd != "" {
		w, err := shellwords.Split(n.Cmd)
		if err != nil {
			return nil, fmt.Errorf("cmd: %w", err)
		}
		cmd = w
	}
	img, known := lookupImage(n.Image)
	if !known {
		if cmd == nil {
			return nil, fmt.Errorf("not an image the netns runtime knows (%s); give the node a cmd to run instead",
				strings.Join(imageNames(), ", "))
		}
		return cmd, nil
	}
	if img.Entrypoint == "" {
		return cmd, nil
	}
	bin := filepath.Join(binDir, img.Entrypoint)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("needs %s: build it with `make build` (or set GETLAB_BIN): %w", bin, err)
	}
	if cmd == nil {
		cmd = img.Cmd
	}
	return append([]string{bin}, cmd...), nil
}

func imageNames() []string {
	var names []string
	for k := range Images {
		names = append(names, k)
	}
	return names
}

// DefaultBinDir finds the binaries built from this tree: $GETLAB_BIN, else
// bin/ at the root of the source tree around the working directory, else
// the directory of the running executable.
func DefaultBinDir() string {
	if d := os.Getenv("GETLAB_BIN"); d != "" {
		return d
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return filepath.Join(d, "bin")
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Dir(exe)
	}
	return "bin"
}
