package topo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// parser walks the YAML tree of one file and collects every problem it finds.
type parser struct {
	name string // the file as named in messages
	dir  string // directory relative host paths resolve against
	errs []error
	seen map[string]bool // messages already reported (merged anchors repeat them)

	declared map[string]bool // every node name under topology.nodes, valid or not
	merges   int             // mappings merged in with <<, to stop merge-key bombs
	work     int             // mapping entries and list items visited, aliases counted each time
}

// maxWork bounds the entries and items a file may make the parser visit.
// Aliases make a small file stand for a big one; no real topology comes
// near this.
const maxWork = 1 << 20

// maxMerges bounds how many mappings a file may merge in with <<, counting
// repeats: nested merge keys can otherwise multiply like a "billion laughs".
const maxMerges = 10000

func parse(data []byte, path string, lookup func(string) (string, bool)) (*Topology, error) {
	file, dir := absPaths(path)
	p := &parser{name: path, dir: dir, seen: map[string]bool{}, declared: map[string]bool{}}
	if p.name == "" {
		p.name = "<topology>"
	}

	if i := bytes.Index(data, []byte("{{")); i >= 0 {
		line := 1 + bytes.Count(data[:i], []byte("\n"))
		p.errorf(&yaml.Node{Line: line}, "", "containerlab's Go template syntax ({{ ... }}) is not supported by getlab")
		return nil, p.err()
	}
	expanded, experrs := expandEnv(data, lookup)
	for _, e := range experrs {
		p.errorf(&yaml.Node{Line: e.line}, "", "environment variable expansion: %s", e.msg)
	}
	if len(p.errs) > 0 {
		return nil, p.err()
	}

	root, err := decodeYAML(expanded)
	if err != nil {
		p.errorf(nil, "", "%v", err)
		return nil, p.err()
	}

	t := &Topology{File: file, Dir: dir}
	p.topology(root, t)
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	return t, nil
}

// decodeYAML parses exactly one YAML document. yaml.v3 is not known to panic
// on any input, but a parse error must never crash the bench, so a panic is
// turned into an error.
func decodeYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("the file is empty")
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the file holds more than one YAML document (line %d)", more.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("the file is empty")
	}
	return doc.Content[0], nil
}

func (p *parser) err() error { return errors.Join(p.errs...) }

// errorf records an error "FILE: WHERE: MESSAGE (line N)". where names the
// place in the file (node "gm1", defaults, links[2], ...) and may be empty;
// n gives the line and may be nil.
func (p *parser) errorf(n *yaml.Node, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	if n != nil && n.Line > 0 {
		msg = fmt.Sprintf("%s (line %d)", msg, n.Line)
	}
	if p.seen[msg] {
		return
	}
	p.seen[msg] = true
	p.errs = append(p.errs, fmt.Errorf("%s: %s", p.name, msg))
}

// unknownField reports a key that is not among the fields getlab handles at
// this place. known lists what containerlab accepts there; what names the
// kind of object for the message ("node", "link", ...).
func (p *parser) unknownField(k *yaml.Node, where, key string, known []string, what string) {
	if contains(known, key) {
		if hint := unsupportedHints[key]; hint != "" {
			p.errorf(k, where, "field %q is not supported by getlab: %s", key, hint)
		} else {
			p.errorf(k, where, "field %q is not supported by getlab", key)
		}
		return
	}
	if s := suggest(key, known); s != "" {
		p.errorf(k, where, "field %q is not a containerlab %s field (did you mean %q?)", key, what, s)
		return
	}
	p.errorf(k, where, "field %q is not a containerlab %s field", key, what)
}

// --- YAML helpers ---

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type for messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "an unexpected YAML node"
}

type entry struct {
	key    string
	keyN   *yaml.Node
	val    *yaml.Node
	merged bool // came in through a merge key (<<)
}

// entries returns the key/value pairs of a mapping in file order, with YAML
// merge keys (<<: *anchor) applied: keys written in the mapping win over
// merged ones, and earlier merged mappings over later ones. Duplicate and
// non-scalar keys are errors. what names the mapping for messages.
func (p *parser) entries(n *yaml.Node, where, what string) ([]entry, bool) {
	return p.entriesDepth(n, where, what, 0)
}

func (p *parser) entriesDepth(n *yaml.Node, where, what string, depth int) ([]entry, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.MappingNode {
		p.errorf(lineNode(n, d), where, "%s must be a mapping, not %s", what, describe(d))
		return nil, false
	}
	if depth > 0 {
		p.merges++
	}
	if depth > 8 || p.merges > maxMerges {
		p.errorf(nil, "", "merge keys (<<) nest too deep or merge too often")
		return nil, false
	}
	if !p.spend(len(d.Content) / 2) {
		return nil, false
	}
	explicit := map[string]bool{}
	for i := 0; i+1 < len(d.Content); i += 2 {
		k := deref(d.Content[i])
		if isMergeKey(k) {
			continue
		}
		if k == nil || k.Kind != yaml.ScalarNode {
			p.errorf(lineNode(d.Content[i], k), where, "%s has a key that is %s; keys must be plain names", what, describe(k))
			continue
		}
		if explicit[k.Value] {
			p.errorf(k, where, "key %q appears twice", k.Value)
			continue
		}
		explicit[k.Value] = true
	}
	var out []entry
	have := map[string]bool{}
	for i := 0; i+1 < len(d.Content); i += 2 {
		k, v := deref(d.Content[i]), d.Content[i+1]
		if isMergeKey(k) {
			srcs := []*yaml.Node{v}
			if dv := deref(v); dv != nil && dv.Kind == yaml.SequenceNode {
				srcs = dv.Content
			}
			for _, src := range srcs {
				sub, ok := p.entriesDepth(src, where, "a value merged with <<", depth+1)
				if !ok {
					continue
				}
				for _, e := range sub {
					if explicit[e.key] || have[e.key] {
						continue
					}
					have[e.key] = true
					e.merged = true
					out = append(out, e)
				}
			}
			continue
		}
		if k == nil || k.Kind != yaml.ScalarNode || have[k.Value] {
			continue
		}
		have[k.Value] = true
		out = append(out, entry{key: k.Value, keyN: lineNode(d.Content[i], k), val: v})
	}
	return out, true
}

func isMergeKey(k *yaml.Node) bool {
	return k != nil && k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// lineNode picks the node to take a line number from: the original (an alias
// sits where it is used) when it has one.
func lineNode(orig, d *yaml.Node) *yaml.Node {
	if orig != nil && orig.Line > 0 {
		return orig
	}
	return d
}

// spend counts n units of work and reports whether the file is still within
// maxWork; the first time it is not, it records an error.
func (p *parser) spend(n int) bool {
	if p.work > maxWork {
		return false
	}
	p.work += n
	if p.work > maxWork {
		p.errorf(nil, "", "the file expands to too much data (through YAML aliases) to be a topology")
		return false
	}
	return true
}

// str returns a string scalar.
func (p *parser) str(n *yaml.Node, where, field string) (string, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!str" {
		p.errorf(lineNode(n, d), where, "field %q must be a string, not %s", field, describe(d))
		return "", false
	}
	if strings.ContainsRune(d.Value, 0) {
		p.errorf(lineNode(n, d), where, "field %q holds a NUL byte", field)
		return "", false
	}
	return d.Value, true
}

// nonEmptyStr returns a string scalar that must not be empty.
func (p *parser) nonEmptyStr(n *yaml.Node, where, field string) (string, bool) {
	s, ok := p.str(n, where, field)
	if ok && s == "" {
		p.errorf(lineNode(n, deref(n)), where, "field %q must not be empty", field)
		return "", false
	}
	return s, ok
}

func (p *parser) boolean(n *yaml.Node, where, field string) (bool, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!bool" {
		p.errorf(lineNode(n, d), where, "field %q must be true or false, not %s", field, describe(d))
		return false, false
	}
	var b bool
	if err := d.Decode(&b); err != nil {
		p.errorf(lineNode(n, d), where, "field %q: %v", field, err)
		return false, false
	}
	return b, true
}

// strList returns a list of strings; an empty list is an error when
// nonEmpty is set (the schema's minItems: 1).
func (p *parser) strList(n *yaml.Node, where, field string, nonEmpty bool) ([]string, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(lineNode(n, d), where, "field %q must be a list of strings, not %s", field, describe(d))
		return nil, false
	}
	if nonEmpty && len(d.Content) == 0 {
		p.errorf(lineNode(n, d), where, "field %q must not be an empty list (leave it out instead)", field)
		return nil, false
	}
	if !p.spend(len(d.Content)) {
		return nil, false
	}
	out := make([]string, 0, len(d.Content))
	ok := true
	for i, item := range d.Content {
		s, good := p.str(item, where, fmt.Sprintf("%s[%d]", field, i))
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// scalarMap returns a mapping of names to scalar values; tags lists the YAML
// scalar types a value may have. Values are kept as written in the file.
func (p *parser) scalarMap(n *yaml.Node, where, field string, tags ...string) (map[string]string, bool) {
	es, ok := p.entries(n, where, fmt.Sprintf("field %q", field))
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		d := deref(e.val)
		if d == nil || d.Kind != yaml.ScalarNode || !contains(tags, d.ShortTag()) {
			p.errorf(lineNode(e.val, d), where, "field %q: %q must be %s, not %s", field, e.key, tagList(tags), describe(d))
			ok = false
			continue
		}
		if strings.ContainsRune(d.Value, 0) || strings.ContainsRune(e.key, 0) {
			p.errorf(lineNode(e.val, d), where, "field %q: %q holds a NUL byte", field, e.key)
			ok = false
			continue
		}
		out[e.key] = d.Value
	}
	return out, ok
}

func tagList(tags []string) string {
	names := map[string]string{"!!str": "a string", "!!int": "a number", "!!float": "a number", "!!bool": "a boolean"}
	var out []string
	for _, t := range tags {
		if n := names[t]; n != "" && !contains(out, n) {
			out = append(out, n)
		}
	}
	return strings.Join(out, " or ")
}

// --- the file ---

var (
	labNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	ifaceRE    = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	sysctlRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)+$`)
	capRE      = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
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
	"image", "cmd", "exec", "env", "binds", "startup-config", "privileged", "cap-add", "sysctls",
}

// level is what one level (defaults, a kind, a node) sets.
type level struct {
	where string
	set   map[string]*yaml.Node // key node of each field this level sets

	kind, image, cmd, startupConfig string
	privileged                      *bool
	exec                            []string
	env, labels, sysctls            map[string]string
	binds                           []Bind
	capAdd                          []string
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
		case "env":
			l.env = p.env(e.val, where)
		case "labels":
			l.labels = p.labels(e.val, where)
		case "sysctls":
			l.sysctls = p.sysctls(e.val, where)
		case "binds":
			l.binds = p.binds(e.val, where)
		case "cap-add":
			l.capAdd = p.caps(e.val, where)
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

func (p *parser) binds(n *yaml.Node, where string) []Bind {
	list, _ := p.strList(n, where, "binds", true)
	var out []Bind
	at := map[string]string{}
	for _, s := range list {
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
		for _, c := range l.capAdd {
			if !contains(n.CapAdd, c) {
				n.CapAdd = append(n.CapAdd, c)
			}
		}
		for _, b := range l.binds {
			replaced := false
			for i := range n.Binds {
				if n.Binds[i].Node == b.Node {
					n.Binds[i], replaced = b, true
				}
			}
			if !replaced {
				n.Binds = append(n.Binds, b)
			}
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

func (p *parser) links(n *yaml.Node, t *Topology) {
	d := deref(n)
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(lineNode(n, d), "topology", "links must be a list, not %s", describe(d))
		return
	}
	if len(d.Content) == 0 {
		p.errorf(lineNode(n, d), "topology", "links must not be an empty list (leave it out instead)")
		return
	}
	nodes := map[string]*Node{}
	for _, nd := range t.Nodes {
		nodes[nd.Name] = nd
	}
	used := map[Endpoint]int{}          // endpoint -> index of the link that uses it
	bridgeIfaces := map[string]string{} // interface name -> bridge node using it
	for i, ln := range d.Content {
		where := fmt.Sprintf("links[%d]", i)
		l, ok := p.link(ln, where)
		if !ok {
			continue
		}
		good := true
		for _, ep := range []Endpoint{l.A, l.B} {
			if !p.checkEndpoint(ln, where, ep, nodes) {
				good = false
			}
		}
		if !good {
			continue
		}
		if l.A == l.B {
			p.errorf(ln, where, "both endpoints are %q", l.A.String())
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			if prev, dup := used[ep]; dup {
				p.errorf(ln, where, "interface %q of node %q is already used by links[%d]", ep.Iface, ep.Node, prev)
				good = false
			}
		}
		if !good {
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			nd := nodes[ep.Node]
			if nd.IsBridge() {
				// containerlab leaves a bridge's ports in the host's
				// namespace, where names must be unique across bridges.
				if other, dup := bridgeIfaces[ep.Iface]; dup && other != ep.Node {
					p.errorf(ln, where, "interface %q of bridge %q is also a port of bridge %q; containerlab puts bridge ports in the host namespace, so they need distinct names", ep.Iface, ep.Node, other)
					good = false
				}
			}
		}
		if !good {
			continue
		}
		for _, ep := range []Endpoint{l.A, l.B} {
			used[ep] = i
			nd := nodes[ep.Node]
			nd.Interfaces = append(nd.Interfaces, ep.Iface)
			if nd.IsBridge() {
				bridgeIfaces[ep.Iface] = ep.Node
			}
		}
		t.Links = append(t.Links, l)
	}
}

// link parses one entry of topology.links.
func (p *parser) link(n *yaml.Node, where string) (*Link, bool) {
	es, ok := p.entries(n, where, "a link")
	if !ok {
		return nil, false
	}
	var endpoints, typ, typKey *yaml.Node
	l := &Link{}
	good := true
	for _, e := range es {
		switch e.key {
		case "endpoints":
			endpoints = e.val
		case "type":
			typ, typKey = e.val, e.keyN
		case "mtu":
			mtu, ok := p.mtu(e.val, where)
			if !ok {
				good = false
			}
			l.MTU = mtu
		default:
			p.unknownField(e.keyN, where, e.key, linkFields, "link")
			good = false
		}
	}
	extended := false
	if typ != nil {
		s, ok := p.str(typ, where, "type")
		switch {
		case !ok:
			return nil, false
		case s == "veth":
			extended = true
		case contains(linkTypes, s):
			p.errorf(typKey, where, "link type %q is not supported by getlab (only veth)", s)
			return nil, false
		default:
			p.errorf(typKey, where, "%q is not a containerlab link type", s)
			return nil, false
		}
	}
	if endpoints == nil {
		p.errorf(n, where, "field %q is required", "endpoints")
		return nil, false
	}
	d := deref(endpoints)
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errorf(lineNode(endpoints, d), where, "field %q must be a list, not %s", "endpoints", describe(d))
		return nil, false
	}
	if len(d.Content) != 2 {
		p.errorf(lineNode(endpoints, d), where, "a link needs exactly 2 endpoints, not %d", len(d.Content))
		return nil, false
	}
	var eps [2]Endpoint
	for j, en := range d.Content {
		var ep Endpoint
		var ok bool
		if extended {
			ep, ok = p.extendedEndpoint(en, fmt.Sprintf("%s.endpoints[%d]", where, j))
		} else {
			ep, ok = p.briefEndpoint(en, where)
		}
		if !ok {
			good = false
		}
		eps[j] = ep
	}
	if !good {
		return nil, false
	}
	l.A, l.B = eps[0], eps[1]
	return l, true
}

func (p *parser) mtu(n *yaml.Node, where string) (int, bool) {
	d := deref(n)
	var v int
	if d == nil || d.Kind != yaml.ScalarNode || d.ShortTag() != "!!int" || d.Decode(&v) != nil {
		p.errorf(lineNode(n, d), where, "field %q must be a whole number, not %s", "mtu", describe(d))
		return 0, false
	}
	if v < MinMTU || v > MaxMTU {
		p.errorf(lineNode(n, d), where, "mtu %d is outside %d..%d", v, MinMTU, MaxMTU)
		return 0, false
	}
	return v, true
}

func (p *parser) briefEndpoint(n *yaml.Node, where string) (Endpoint, bool) {
	d := deref(n)
	if d != nil && d.Kind == yaml.MappingNode {
		p.errorf(lineNode(n, d), where, "an endpoint written as a mapping needs the extended link form (type: veth)")
		return Endpoint{}, false
	}
	s, ok := p.str(n, where, "endpoints")
	if !ok {
		return Endpoint{}, false
	}
	node, iface, found := strings.Cut(s, ":")
	if !found || node == "" || iface == "" {
		p.errorf(lineNode(n, d), where, "endpoint %q is not of the form NODE:INTERFACE", s)
		return Endpoint{}, false
	}
	return Endpoint{Node: node, Iface: iface}, true
}

func (p *parser) extendedEndpoint(n *yaml.Node, where string) (Endpoint, bool) {
	es, ok := p.entries(n, where, "an endpoint of a veth link")
	if !ok {
		return Endpoint{}, false
	}
	var ep Endpoint
	var hasNode, hasIface bool
	good := true
	for _, e := range es {
		switch e.key {
		case "node":
			hasNode = true
			if ep.Node, ok = p.nonEmptyStr(e.val, where, "node"); !ok {
				good = false
			}
		case "interface":
			hasIface = true
			if ep.Iface, ok = p.nonEmptyStr(e.val, where, "interface"); !ok {
				good = false
			}
		default:
			p.unknownField(e.keyN, where, e.key, endpointFields, "endpoint")
			good = false
		}
	}
	if !hasNode {
		p.errorf(n, where, "field %q is required", "node")
		good = false
	}
	if !hasIface {
		p.errorf(n, where, "field %q is required", "interface")
		good = false
	}
	return ep, good
}

// checkEndpoint checks that an endpoint names a defined node and a usable
// interface name.
func (p *parser) checkEndpoint(n *yaml.Node, where string, ep Endpoint, nodes map[string]*Node) bool {
	good := true
	if nodes[ep.Node] == nil {
		if p.declared[ep.Node] {
			// The node itself is in error and was reported already.
			return false
		}
		if contains(specialNodes, ep.Node) {
			p.errorf(n, where, "endpoint %q: containerlab's special node %q is not supported by getlab", ep.String(), ep.Node)
		} else {
			p.errorf(n, where, "endpoint %q: node %q is not defined in topology.nodes", ep.String(), ep.Node)
		}
		good = false
	}
	switch i := ep.Iface; {
	case len(i) > MaxIfaceNameLen:
		p.errorf(n, where, "endpoint %q: interface name %q is %d bytes long; Linux allows at most %d", ep.String(), i, len(i), MaxIfaceNameLen)
		good = false
	case !ifaceRE.MatchString(i) || i == "." || i == "..":
		p.errorf(n, where, "endpoint %q: interface name %q may hold only letters, digits, '.', '_' and '-'", ep.String(), i)
		good = false
	case i == "eth0" || i == "lo":
		p.errorf(n, where, "endpoint %q: interface %q is reserved (eth0 is containerlab's management interface; data links are eth1, eth2, ...)", ep.String(), i)
		good = false
	}
	return good
}
