package topo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
