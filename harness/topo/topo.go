// Package topo loads a containerlab topology file (*.clab.yml) into the model
// the bench's runtimes (netns, docker) build labs from, and validates it
// strictly: every key of the file is checked, and whatever getlab would not
// run exactly as containerlab does is an error, never silently dropped.
//
// # What a file may hold
//
// Top level: name, topology and mgmt (only skip-when-unused: true). Under
// topology: defaults, kinds (only linux and bridge), nodes and links. A node,
// the defaults and a kind entry may set kind, image, cmd, exec, env, binds,
// labels, startup-config, privileged, cap-add, sysctls, devices and
// network-mode (only none). A link is either the brief form
//
//	links:
//	  - endpoints: ["a:eth1", "b:eth1"]
//	    mtu: 1500          # optional
//
// or the extended form
//
//	links:
//	  - type: veth
//	    endpoints: [{node: a, interface: eth1}, {node: b, interface: eth1}]
//	    mtu: 1500          # optional
//
// Any other key is an error that names the file, the place (node, kind,
// defaults or link index), the field and its line, and says whether
// containerlab knows the field (then getlab does not support it) or not
// (then it is probably a typo):
//
//	topologies/x.clab.yml: node "gm1": field "ports" is not supported by getlab: ... (line 12)
//	topologies/x.clab.yml: node "gm1": field "imgae" is not a containerlab node field (did you mean "image"?) (line 9)
//
// All problems of a file are reported at once, joined with errors.Join, one
// per line. Besides unknown keys, these are errors: a kind other than linux
// and bridge; a linux node without an image (containerlab requires one too);
// a node name that is empty, longer than 32 bytes or not made of letters,
// digits, '.', '_' and '-' starting with a letter or digit; a bridge name
// longer than 15 bytes (it names the bridge device); a link endpoint naming
// an unknown node, not of the form NODE:INTERFACE, or with an interface name
// longer than 15 bytes, with other characters, or eth0 (containerlab's
// management interface) or lo; an interface used by two links; a link with
// both ends on the same interface; an MTU outside 68..65535; a bind without
// ':' (an anonymous volume), with a relative container path or with options
// other than ro and rw; a sysctl outside net.*; YAML that is not one
// document, has duplicate keys or values of the wrong type.
//
// # No management network
//
// containerlab gives every node a management interface eth0 on a management
// network, with a default route through it, unless the node resolves to
// network-mode: none; with mgmt.skip-when-unused: true and every node none,
// it builds no management network at all. getlab builds none, ever: every
// node gets its own network namespace holding only loopback and its links.
// So network-mode: none is what getlab does and is accepted (on nodes, in
// topology.kinds and in topology.defaults, resolved as containerlab does,
// bridge nodes included); host, container:NAME and bridge are errors.
// mgmt.skip-when-unused: true is accepted when every node resolves to none;
// any other mgmt field is an error. A file that leaves network-mode out still
// loads, but runs differently under containerlab (its nodes get eth0 and a
// default route there); the repository's topologies set it.
//
// Left out, and therefore errors: the top-level prefix, settings, debug and
// every mgmt field but skip-when-unused (getlab names nodes by their
// topology names), topology.groups, link types other than veth and containerlab's
// special endpoints (host, mgmt-net, macvlan), per-link and per-endpoint
// addresses, MACs and vars, embedded or remote startup-configs, ~ and
// __clabDir__/__clabNodeDir__ in host paths, env's __IMPORT_ENVS, and every
// node field not listed above.
//
// # Inheritance (as containerlab resolves it, types/topology.go)
//
// A node's values come from topology.defaults, then topology.kinds.<kind>,
// then the node itself, the more specific level winning:
//
//   - kind: the node's, else the defaults' (a kind entry cannot set it);
//   - image, cmd, startup-config, network-mode: the first one set of node,
//     kind, defaults (network-mode for bridge nodes too);
//   - privileged: the first one set of node, kind, defaults, so an explicit
//     false on the node beats true in the defaults;
//   - env, labels, sysctls: merged key by key, the more specific value winning;
//   - binds: defaults, kind and node binds combined; a bind for a container
//     path that a less specific level also binds replaces that bind;
//   - exec: the lists are concatenated, defaults first, then kind, then node
//     (containerlab's GetNodeExec appends; a node does not replace them);
//   - cap-add: the union of the three lists, in that order, without repeats.
//
// Bridge nodes take only kind, labels and network-mode: container settings inherited from
// topology.defaults do not apply to them (containerlab ignores them for a
// bridge too), and setting one on the bridge node or in topology.kinds.bridge
// is an error.
//
// # Environment variables
//
// Like containerlab, the file is run through environment-variable expansion
// before it is parsed: $NAME and ${NAME} take the value of a set variable and
// are left as written when it is unset, ${NAME:=default} and ${NAME:-default}
// fall back to a literal default when the variable is unset or empty, and $$
// is a literal $ (write "$$VAR" in exec to reach the node's own environment).
// The rarer forms (${NAME-x}, ${NAME=x}, ${NAME+x}, ${NAME:+x}, nested
// defaults) are errors. containerlab's Go-template pass ({{ ... }} with a
// _vars file) is not supported: a file holding "{{" is an error.
package topo

import (
	"fmt"
	"os"
	"path/filepath"
)

// The node kinds getlab runs.
const (
	KindLinux  = "linux"  // a node with its own network namespace and processes
	KindBridge = "bridge" // a Linux bridge named after the node
)

// NetworkModeNone is the only network-mode getlab accepts. Under containerlab
// it gives the node's container its own network namespace with only
// loopback: no management interface eth0 and no default route through it,
// so the node has nothing but the topology's links, as the hosts' routes
// expect. Both getlab runtimes (netns, docker) give every node exactly that
// whether or not it is set: they build no management network.
const NetworkModeNone = "none"

// Limits the loader enforces.
const (
	MaxNodeNameLen   = 32    // bytes in a node name
	MaxBridgeNameLen = 15    // bytes in a bridge node's name: it names the bridge device (IFNAMSIZ-1)
	MaxIfaceNameLen  = 15    // bytes in an interface name (IFNAMSIZ-1)
	MinMTU           = 68    // smallest link MTU (the IPv4 minimum, RFC 791)
	MaxMTU           = 65535 // largest link MTU
)

// ContainerlabDefaultMTU is the MTU containerlab gives a veth link whose mtu
// is not set (links.DefaultLinkMTU). A runtime that wants a lab to behave as
// it does under containerlab uses it when Link.MTU is 0.
const ContainerlabDefaultMTU = 9500

// Topology is a loaded and validated topology file.
type Topology struct {
	Name  string
	File  string  // absolute path of the file ("" when parsed from bytes without a path)
	Dir   string  // its directory; relative host paths (binds, startup-config) resolve against it
	Nodes []*Node // in file order
	Links []*Link // in file order
	// SkipMgmtWhenUnused is mgmt.skip-when-unused: containerlab builds no
	// management network for the lab (every node then resolves to
	// network-mode: none, which Load checks).
	SkipMgmtWhenUnused bool
}

// Node is a node with the defaults and its kind's values applied.
type Node struct {
	Name string
	Kind string // KindLinux or KindBridge
	// NetworkMode is the resolved network-mode: NetworkModeNone or "" (not
	// set). getlab runs both the same way: see NetworkModeNone.
	NetworkMode   string
	Image         string
	Cmd           string
	Exec          []string
	Env           map[string]string
	Binds         []Bind
	Labels        map[string]string
	StartupConfig string // absolute host path, "" if none
	Privileged    bool
	CapAdd        []string // capability names upper-case without the CAP_ prefix, e.g. NET_ADMIN
	Sysctls       map[string]string
	// Devices are host devices given to the node's container ("/dev/net/tun"
	// for a GM's data plane). The netns runtime shares the host's /dev.
	Devices    []string
	Interfaces []string // this node's interface names in the order the links list them

	// Where the node's settings are written in the file, so that a runtime
	// can point at the entry a bring-up step failed on. Each is 0 when
	// unknown; an inherited entry has the line of the defaults or kind
	// entry that set it.
	Line        int            // the node's name under topology.nodes
	ExecLines   []int          // ExecLines[i] is the line of Exec[i]
	BindLines   []int          // BindLines[i] is the line of Binds[i]
	DeviceLines []int          // DeviceLines[i] is the line of Devices[i]
	SysctlLines map[string]int // the line of each sysctl's key; nil when none is set
}

// Bind mounts a host path into a node.
type Bind struct {
	Host     string // absolute host path
	Node     string // absolute path inside the node
	ReadOnly bool
}

// Link is a point-to-point link (a veth pair) between two endpoints.
type Link struct {
	A, B Endpoint
	MTU  int // 0 = not set (containerlab then uses ContainerlabDefaultMTU)
	Line int // the line of its entry under topology.links (0 when unknown)
}

// Endpoint is one end of a link: an interface of a node.
type Endpoint struct {
	Node, Iface string
}

// String returns the endpoint in containerlab's brief form, "node:iface".
func (e Endpoint) String() string { return e.Node + ":" + e.Iface }

// String returns the link as "a:eth1--b:eth1".
func (l *Link) String() string { return l.A.String() + "--" + l.B.String() }

// Load reads and parses the topology file at path.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a topology file's contents. path names the file in error
// messages and sets File and Dir; relative host paths resolve against Dir.
// Environment variables are expanded from the process environment.
func Parse(data []byte, path string) (*Topology, error) {
	return parse(data, path, os.LookupEnv)
}

// Node returns the node with the given name, or nil.
func (t *Topology) Node(name string) *Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// IsBridge reports whether the node is a bridge.
func (n *Node) IsBridge() bool { return n.Kind == KindBridge }

// LinksOf returns the links with an endpoint on the named node, in file order.
func (t *Topology) LinksOf(node string) []*Link {
	var out []*Link
	for _, l := range t.Links {
		if l.A.Node == node || l.B.Node == node {
			out = append(out, l)
		}
	}
	return out
}

func absPaths(path string) (file, dir string) {
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			wd = "."
		}
		return "", wd
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	return abs, filepath.Dir(abs)
}
