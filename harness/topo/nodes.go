package topo

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

func (p *parser) topology(root *yaml.Node, t *Topology) {
	es, ok := p.entries(root, "", "the file")
	if !ok {
		return
	}
	var topo *yaml.Node
	hasName := false
	for _, e := range es {
		switch e.key {
		case "name":
			hasName = true
			if s, ok := p.nonEmptyStr(e.val, "", "name"); ok {
				if !labNameRE.MatchString(s) {
					p.errorf(e.keyN, "", "name %q must start with a letter or digit and hold only letters, digits, '.', '_' and '-'", s)
				}
				t.Name = s
			}
		case "topology":
			topo = e.val
		case "mgmt":
			p.mgmt(e.val, t)
		default:
			p.unknownField(e.keyN, "", e.key, topLevelFields, "top-level")
		}
	}
	if !hasName {
		p.errorf(root, "", "field %q is required", "name")
	}
	if topo == nil {
		p.errorf(root, "", "field %q is required", "topology")
		return
	}

	tes, ok := p.entries(topo, "topology", "topology")
	if !ok {
		return
	}
	var defaultsN, kindsN, nodesN, linksN *yaml.Node
	var nodesKey *yaml.Node
	for _, e := range tes {
		switch e.key {
		case "defaults":
			defaultsN = e.val
		case "kinds":
			kindsN = e.val
		case "nodes":
			nodesN, nodesKey = e.val, e.keyN
		case "links":
			linksN = e.val
		default:
			p.unknownField(e.keyN, "topology", e.key, topologyFields, "topology")
		}
	}

	defaults := &level{where: "defaults", set: map[string]*yaml.Node{}}
	if defaultsN != nil {
		defaults = p.level(defaultsN, "defaults", secDefaults)
		if defaults.kind != "" && !supportedKind(defaults.kind) {
			p.errorf(defaults.set["kind"], "defaults", "kind %q is not supported by getlab (only %q and %q)", defaults.kind, KindLinux, KindBridge)
		}
	}
	kinds := map[string]*level{}
	if kindsN != nil {
		if kes, ok := p.entries(kindsN, "topology.kinds", "topology.kinds"); ok {
			for _, e := range kes {
				where := fmt.Sprintf("kind %q", e.key)
				if !supportedKind(e.key) {
					p.errorf(e.keyN, "topology.kinds", "kind %q is not supported by getlab (only %q and %q)", e.key, KindLinux, KindBridge)
					continue
				}
				kinds[e.key] = p.level(e.val, where, secKind)
			}
		}
	}
	if b := kinds[KindBridge]; b != nil {
		for _, f := range containerFields {
			if v := b.set[f]; v != nil {
				p.errorf(v, b.where, "field %q has no effect on bridge nodes", f)
			}
		}
	}

	if nodesN == nil {
		p.errorf(topo, "topology", "field %q is required", "nodes")
		return
	}
	nes, ok := p.entries(nodesN, "topology.nodes", "topology.nodes")
	if !ok {
		return
	}
	if len(nes) == 0 {
		p.errorf(nodesKey, "topology.nodes", "no nodes are defined")
	}
	for _, e := range nes {
		where := fmt.Sprintf("node %q", e.key)
		p.declared[e.key] = true
		p.checkNodeName(e.keyN, where, e.key)
		var l *level
		if isNull(e.val) {
			l = &level{where: where, set: map[string]*yaml.Node{}}
		} else {
			l = p.level(e.val, where, secNode)
		}
		if n := p.resolve(e.key, e.keyN, l, defaults, kinds); n != nil {
			t.Nodes = append(t.Nodes, n)
		}
	}

	if linksN != nil {
		p.links(linksN, t)
	}

	// With skip-when-unused, containerlab still builds its management
	// network when a single node resolves to another network mode; getlab
	// never builds one, so such a file would not run the same.
	if t.SkipMgmtWhenUnused {
		for _, n := range t.Nodes {
			if n.NetworkMode != NetworkModeNone {
				p.errorf(&yaml.Node{Line: n.Line}, fmt.Sprintf("node %q", n.Name),
					"mgmt.skip-when-unused needs every node to resolve to network-mode: none (containerlab builds its management network otherwise); set it on the node, in topology.kinds.%s or in topology.defaults", n.Kind)
			}
		}
	}
}

// mgmt reads the top-level mgmt section. getlab never builds a management
// network, so the only setting it runs as containerlab does is
// skip-when-unused: true (containerlab then builds none either, provided
// every node resolves to network-mode: none, which topology checks).
func (p *parser) mgmt(n *yaml.Node, t *Topology) {
	const hint = "getlab builds no management network; of mgmt only skip-when-unused: true is supported"
	es, ok := p.entries(n, "mgmt", "field \"mgmt\"")
	if !ok {
		return
	}
	if len(es) == 0 {
		p.errorf(lineNode(n, deref(n)), "mgmt", "must not be empty (containerlab's schema wants at least one field); leave it out instead")
	}
	for _, e := range es {
		switch {
		case e.key == "skip-when-unused":
			b, ok := p.boolean(e.val, "mgmt", e.key)
			if ok && !b {
				p.errorf(e.keyN, "mgmt", "skip-when-unused: false is not supported by getlab: %s", hint)
			}
			t.SkipMgmtWhenUnused = b
		case contains(mgmtFields, e.key):
			p.errorf(e.keyN, "mgmt", "field %q is not supported by getlab: %s", e.key, hint)
		default:
			p.unknownField(e.keyN, "mgmt", e.key, mgmtFields, "mgmt")
		}
	}
}

func supportedKind(k string) bool { return k == KindLinux || k == KindBridge }

func (p *parser) checkNodeName(k *yaml.Node, where, name string) {
	switch {
	case name == "":
		p.errorf(k, where, "a node name must not be empty")
	case len(name) > MaxNodeNameLen:
		p.errorf(k, where, "node name is %d bytes long; at most %d are allowed", len(name), MaxNodeNameLen)
	case !nodeNameRE.MatchString(name):
		p.errorf(k, where, "node name must start with a letter or digit and hold only letters, digits, '.', '_' and '-'")
	}
}

// --- node settings (defaults, kinds.<kind>, nodes.<name>) ---

const (
	secDefaults = iota
	secKind
	secNode
)

// containerFields are the settings that only mean something for a node that
// runs processes (kind linux); a bridge takes none of them.
var containerFields = []string{
	"image", "cmd", "exec", "env", "binds", "startup-config", "privileged", "cap-add", "sysctls", "devices",
}

// level is what one level (defaults, a kind, a node) sets.
type level struct {
	where string
	set   map[string]*yaml.Node // key node of each field this level sets

	kind, image, cmd, startupConfig string
	networkMode                     string
	privileged                      *bool
	exec                            []string
	env, labels, sysctls            map[string]string
	binds                           []Bind
	capAdd, devices                 []string

	// Lines of the entries above (see Node.ExecLines).
	execLines, bindLines, deviceLines []int
	sysctlLines                       map[string]int
	sysctlsLine                       int // the "sysctls" key, for merged-in keys
}

func (p *parser) level(n *yaml.Node, where string, sec int) *level {
	l := &level{where: where, set: map[string]*yaml.Node{}}
	what := map[int]string{secDefaults: "topology.defaults", secKind: "a kind entry", secNode: "a node"}[sec]
	es, ok := p.entries(n, where, what)
	if !ok {
		return l
	}
	for _, e := range es {
		l.set[e.key] = e.keyN
		switch e.key {
		case "kind":
			if sec == secKind {
				p.errorf(e.keyN, where, "field %q has no effect in topology.kinds (set it on the node or in topology.defaults)", "kind")
				continue
			}
			l.kind, _ = p.nonEmptyStr(e.val, where, e.key)
		case "network-mode":
			if s, ok := p.nonEmptyStr(e.val, where, e.key); ok {
				if s != NetworkModeNone {
					p.errorf(e.keyN, where, "network-mode %q is not supported by getlab: only %q, which is what getlab does for every node (its own network namespace, no management network); host, container:NAME and bridge share or attach namespaces getlab does not build", s, NetworkModeNone)
					continue
				}
				l.networkMode = s
			}
		case "image":
			l.image, _ = p.nonEmptyStr(e.val, where, e.key)
		case "cmd":
			l.cmd, _ = p.nonEmptyStr(e.val, where, e.key)
		case "startup-config":
			if s, ok := p.nonEmptyStr(e.val, where, e.key); ok {
				l.startupConfig, _ = p.startupConfig(e.val, where, s)
			}
		case "privileged":
			if b, ok := p.boolean(e.val, where, e.key); ok {
				l.privileged = &b
			}
		case "exec":
			l.exec, _ = p.strList(e.val, where, e.key, true)
			l.execLines = itemLines(e.val, len(l.exec))
		case "env":
			l.env = p.env(e.val, where)
		case "labels":
			l.labels = p.labels(e.val, where)
		case "sysctls":
			l.sysctls = p.sysctls(e.val, where)
			l.sysctlLines = keyLines(e.val)
			l.sysctlsLine = e.keyN.Line
		case "binds":
			l.binds, l.bindLines = p.binds(e.val, where)
		case "cap-add":
			l.capAdd = p.caps(e.val, where)
		case "devices":
			if ds, ok := p.strList(e.val, where, e.key, false); ok {
				lines := itemLines(e.val, len(ds))
				for i, d := range ds {
					if !strings.HasPrefix(d, "/dev/") {
						p.errorf(e.val, where, "device %q is not a /dev path", d)
						continue
					}
					l.devices = append(l.devices, d)
					l.deviceLines = append(l.deviceLines, lines[i])
				}
			}
		default:
			delete(l.set, e.key)
			p.unknownField(e.keyN, where, e.key, nodeFields, "node")
		}
	}
	return l
}

func (p *parser) startupConfig(n *yaml.Node, where, s string) (string, bool) {
	switch {
	case strings.Contains(s, "\n"):
		p.errorf(n, where, "an embedded startup-config is not supported by getlab; give a file path")
	case strings.Contains(s, "://"):
		p.errorf(n, where, "a remote startup-config (%s) is not supported by getlab; give a file path", s)
	default:
		if h, ok := p.hostPath(n, where, "startup-config", s); ok {
			return h, true
		}
	}
	return "", false
}

// hostPath makes a host path absolute against the topology's directory.
func (p *parser) hostPath(n *yaml.Node, where, field, s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, "~"):
		p.errorf(n, where, "%s: host path %q: ~ is not supported by getlab; give a path relative to the topology file", field, s)
		return "", false
	case strings.Contains(s, "__clab"):
		p.errorf(n, where, "%s: host path %q: containerlab's __clabDir__ and __clabNodeDir__ are not supported by getlab", field, s)
		return "", false
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(p.dir, s)
	}
	return filepath.Clean(s), true
}

func (p *parser) env(n *yaml.Node, where string) map[string]string {
	m, _ := p.scalarMap(n, where, "env", "!!str", "!!int", "!!float", "!!bool")
	for k := range m {
		switch {
		case k == "__IMPORT_ENVS":
			p.errorf(deref(n), where, "env: containerlab's __IMPORT_ENVS is not supported by getlab; list the variables")
			delete(m, k)
		case k == "" || strings.Contains(k, "="):
			p.errorf(deref(n), where, "env: %q is not a valid variable name", k)
			delete(m, k)
		}
	}
	return m
}

func (p *parser) labels(n *yaml.Node, where string) map[string]string {
	m, _ := p.scalarMap(n, where, "labels", "!!str", "!!int", "!!float")
	for k, v := range m {
		switch {
		case k == "":
			p.errorf(deref(n), where, "labels: a label name must not be empty")
			delete(m, k)
		case k == "containerlab" || strings.HasPrefix(k, "clab-"):
			p.errorf(deref(n), where, "labels: %q is reserved by containerlab", k)
			delete(m, k)
		case v == "" || strings.HasPrefix(v, "-"):
			p.errorf(deref(n), where, "labels: %q must be a non-empty string or a number not below 0", k)
			delete(m, k)
		}
	}
	return m
}

func (p *parser) sysctls(n *yaml.Node, where string) map[string]string {
	m, _ := p.scalarMap(n, where, "sysctls", "!!str", "!!int", "!!float")
	for k, v := range m {
		switch {
		case !sysctlRE.MatchString(k):
			p.errorf(deref(n), where, "sysctls: %q is not a sysctl name", k)
			delete(m, k)
		case !strings.HasPrefix(k, "net.") && !strings.HasPrefix(k, "net/"):
			p.errorf(deref(n), where, "sysctls: %q is not supported by getlab: only net.* sysctls belong to a node's network namespace", k)
			delete(m, k)
		case v == "" || strings.ContainsAny(v, "\n"):
			p.errorf(deref(n), where, "sysctls: %q needs a one-line value", k)
			delete(m, k)
		}
	}
	return m
}

func (p *parser) caps(n *yaml.Node, where string) []string {
	list, _ := p.strList(n, where, "cap-add", false)
	var out []string
	for _, c := range list {
		u := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		if !capRE.MatchString(u) {
			p.errorf(deref(n), where, "cap-add: %q is not a capability name", c)
			continue
		}
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func (p *parser) binds(n *yaml.Node, where string) ([]Bind, []int) {
	list, _ := p.strList(n, where, "binds", true)
	lines := itemLines(n, len(list))
	var (
		out      []Bind
		outLines []int
	)
	at := map[string]string{}
	for i, s := range list {
		b, ok := p.bind(deref(n), where, s)
		if !ok {
			continue
		}
		if prev, dup := at[b.Node]; dup {
			p.errorf(deref(n), where, "binds: %q and %q both bind %s", prev, s, b.Node)
			continue
		}
		at[b.Node] = s
		out = append(out, b)
		outLines = append(outLines, lines[i])
	}
	return out, outLines
}

// itemLines returns the line of each item of the sequence n, for a list of
// want strings read from it; where the two do not match (the list had bad
// items, and the file is in error anyway), the lines are those of the list.
func itemLines(n *yaml.Node, want int) []int {
	d := deref(n)
	lines := make([]int, want)
	for i := range lines {
		if d != nil && d.Kind == yaml.SequenceNode && len(d.Content) == want {
			lines[i] = lineNode(d.Content[i], deref(d.Content[i])).Line
		} else {
			lines[i] = lineNode(n, d).Line
		}
	}
	return lines
}

// keyLines returns the line of each key written in the mapping n, keys
// merged in with << left out (those take the line of the field).
func keyLines(n *yaml.Node) map[string]int {
	d := deref(n)
	out := map[string]int{}
	if d == nil || d.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(d.Content); i += 2 {
		if k := deref(d.Content[i]); k != nil && k.Kind == yaml.ScalarNode && !isMergeKey(k) {
			out[k.Value] = lineNode(d.Content[i], k).Line
		}
	}
	return out
}

// bind parses HOST:CONTAINER[:OPTIONS], the docker --volume form containerlab
// uses, restricted to what every getlab runtime can do: a host path (absolute,
// or relative to the topology file) bound at an absolute path, read-write or
// read-only.
func (p *parser) bind(n *yaml.Node, where, s string) (Bind, bool) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 1:
		p.errorf(n, where, "binds: %q has no ':': anonymous volumes are not supported by getlab; write HOST:CONTAINER[:ro]", s)
		return Bind{}, false
	case len(parts) > 3:
		p.errorf(n, where, "binds: %q has more than two ':'; write HOST:CONTAINER[:ro]", s)
		return Bind{}, false
	case parts[0] == "":
		p.errorf(n, where, "binds: %q has an empty host path", s)
		return Bind{}, false
	case !path.IsAbs(parts[1]):
		p.errorf(n, where, "binds: %q: the container path %q must be absolute", s, parts[1])
		return Bind{}, false
	}
	b := Bind{Node: path.Clean(parts[1])}
	if b.Node == "/" {
		p.errorf(n, where, "binds: %q would bind over the node's root", s)
		return Bind{}, false
	}
	if len(parts) == 3 {
		ro, rw := false, false
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				ro = true
			case "rw":
				rw = true
			default:
				p.errorf(n, where, "binds: %q: option %q is not supported by getlab (only ro and rw)", s, o)
				return Bind{}, false
			}
		}
		if ro && rw {
			p.errorf(n, where, "binds: %q is both ro and rw", s)
			return Bind{}, false
		}
		b.ReadOnly = ro
	}
	h, ok := p.hostPath(n, where, "binds", parts[0])
	if !ok {
		return Bind{}, false
	}
	b.Host = h
	return b, true
}

// resolve builds a node from its own level, its kind's and the defaults.
func (p *parser) resolve(name string, keyN *yaml.Node, nl, defaults *level, kinds map[string]*level) *Node {
	kind := nl.kind
	if kind == "" {
		kind = defaults.kind
	}
	switch {
	case kind == "":
		if nl.set["kind"] == nil {
			p.errorf(keyN, nl.where, "no kind: set %q on the node or in topology.defaults", "kind")
		}
		return nil
	case !supportedKind(kind):
		if nl.kind != "" {
			p.errorf(nl.set["kind"], nl.where, "kind %q is not supported by getlab (only %q and %q)", kind, KindLinux, KindBridge)
		}
		return nil
	}
	kl := kinds[kind]
	if kl == nil {
		kl = &level{set: map[string]*yaml.Node{}}
	}
	levels := []*level{defaults, kl, nl} // least to most specific

	n := &Node{Name: name, Kind: kind, Labels: mergeMaps(levels, func(l *level) map[string]string { return l.labels })}
	// containerlab resolves network-mode for bridge nodes too (its
	// skip-when-unused check looks at every node), so it is not a
	// container-only field.
	n.NetworkMode = firstSet(levels, func(l *level) string { return l.networkMode })
	if keyN != nil {
		n.Line = keyN.Line
	}
	if kind == KindBridge {
		for _, f := range containerFields {
			if k := nl.set[f]; k != nil {
				p.errorf(k, nl.where, "field %q has no effect on a bridge node", f)
			}
		}
		if len(name) > MaxBridgeNameLen {
			p.errorf(keyN, nl.where, "a bridge node's name names its bridge device, so it may be at most %d bytes long, not %d", MaxBridgeNameLen, len(name))
		}
		return n
	}

	n.Image = firstSet(levels, func(l *level) string { return l.image })
	n.Cmd = firstSet(levels, func(l *level) string { return l.cmd })
	n.StartupConfig = firstSet(levels, func(l *level) string { return l.startupConfig })
	for _, l := range levels {
		if l.privileged != nil {
			n.Privileged = *l.privileged
		}
		n.Exec = append(n.Exec, l.exec...)
		n.ExecLines = append(n.ExecLines, l.execLines...)
		for _, c := range l.capAdd {
			if !contains(n.CapAdd, c) {
				n.CapAdd = append(n.CapAdd, c)
			}
		}
		for i, d := range l.devices {
			if !contains(n.Devices, d) {
				n.Devices = append(n.Devices, d)
				n.DeviceLines = append(n.DeviceLines, l.deviceLines[i])
			}
		}
		for j, b := range l.binds {
			replaced := false
			for i := range n.Binds {
				if n.Binds[i].Node == b.Node {
					n.Binds[i], n.BindLines[i], replaced = b, l.bindLines[j], true
				}
			}
			if !replaced {
				n.Binds = append(n.Binds, b)
				n.BindLines = append(n.BindLines, l.bindLines[j])
			}
		}
		for k := range l.sysctls {
			if n.SysctlLines == nil {
				n.SysctlLines = map[string]int{}
			}
			line, ok := l.sysctlLines[k]
			if !ok {
				line = l.sysctlsLine
			}
			n.SysctlLines[k] = line
		}
	}
	n.Env = mergeMaps(levels, func(l *level) map[string]string { return l.env })
	n.Sysctls = mergeMaps(levels, func(l *level) map[string]string { return l.sysctls })

	if n.Image == "" {
		p.errorf(keyN, nl.where, "field %q is required for kind %s: set it on the node, in topology.kinds.%s or in topology.defaults", "image", kind, kind)
	}
	return n
}

func firstSet(levels []*level, get func(*level) string) string {
	for i := len(levels) - 1; i >= 0; i-- {
		if v := get(levels[i]); v != "" {
			return v
		}
	}
	return ""
}

// mergeMaps merges a map over the levels, the more specific value winning.
// The result is never nil.
func mergeMaps(levels []*level, get func(*level) map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range levels {
		for k, v := range get(l) {
			out[k] = v
		}
	}
	return out
}

// --- links ---

// specialNodes are the endpoint node names containerlab gives a meaning of
// its own in brief links.
var specialNodes = []string{"host", "mgmt-net", "macvlan"}
