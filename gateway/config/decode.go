package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree, keeping the path of the node being read so
// that every error names the field ("groups[0].ks_list[1]"), and collects all
// errors instead of stopping at the first one.
type decoder struct {
	errs []string
	// set records the path of every key present in the file, so defaults
	// apply only to what the file leaves out.
	set map[string]bool
	// pos records where each key and list item is, for messages.
	pos positions
}

func (d *decoder) errorf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg + d.pos.at(path)
	}
	d.errs = append(d.errs, msg)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// kind names a node kind for messages.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty document"
}

// fields reads a mapping; each key must be one of handlers (unknown and
// duplicate keys are errors). A null node is an empty mapping.
func (d *decoder) fields(n *yaml.Node, path string, handlers map[string]func(*yaml.Node, string)) {
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(path, "want a mapping, got %s", kind(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		p := join(path, key)
		if d.pos != nil {
			d.pos[p] = position{k.Line, k.Column}
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(path, "keys must be plain names, got %s", kind(k))
			continue
		}
		h, ok := handlers[key]
		if !ok {
			d.errorf(p, "unknown key")
			continue
		}
		if seen[key] {
			d.errorf(p, "duplicate key")
			continue
		}
		seen[key] = true
		if d.set != nil {
			d.set[p] = true
		}
		h(v, p)
	}
}

// list reads a sequence, calling item for each element. A null node is an
// empty list.
func (d *decoder) list(n *yaml.Node, path string, item func(*yaml.Node, string)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(path, "want a list, got %s", kind(n))
		return
	}
	for i, e := range n.Content {
		if d.pos != nil {
			d.pos[index(path, i)] = position{e.Line, e.Column}
		}
		item(e, index(path, i))
	}
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalar returns the node's value when it is a scalar.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(path, "want a value, got %s", kind(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if s, ok := d.scalar(n, path); ok {
		*dst = s
	}
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch s {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		d.errorf(path, "%q is not true or false", s)
	}
}

func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n.Tag != "!!int" {
		d.errorf(path, "%q is not an integer", s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(path, "%d is out of range [%d, %d]", v, lo, hi)
		return 0, false
	}
	return v, true
}

func (d *decoder) intField(n *yaml.Node, path string, lo, hi int64, dst *int) {
	if v, ok := d.integer(n, path, lo, hi); ok {
		*dst = int(v)
	}
}

func (d *decoder) port(n *yaml.Node, path string, dst *uint16) {
	if v, ok := d.integer(n, path, 1, 65535); ok {
		*dst = uint16(v)
	}
}

func (d *decoder) float(n *yaml.Node, path string, dst *float64) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || (n.Tag != "!!float" && n.Tag != "!!int") || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(path, "%q is not a number", s)
		return
	}
	*dst = v
}

// maxDuration bounds every configured duration: ten years is far beyond any
// lifetime the seeds mention and keeps arithmetic on durations from
// overflowing.
const maxDuration = 10 * 365 * 24 * time.Hour

// duration reads a duration: a YAML integer is a number of seconds (the unit
// the seeds use: "lifetime seconds 86400"); a string is a Go duration
// ("90s", "20m", "24h"). Zero and negative values are errors.
func (d *decoder) duration(n *yaml.Node, path string, dst *time.Duration) {
	s, v, ok := d.anyDuration(n, path)
	if !ok {
		return
	}
	if v <= 0 {
		d.errorf(path, "%q must be positive", s)
		return
	}
	*dst = v
}

// signedDuration reads a duration as duration does, negative and zero
// ones included: an offset ("-1h").
func (d *decoder) signedDuration(n *yaml.Node, path string, dst *time.Duration) {
	if _, v, ok := d.anyDuration(n, path); ok {
		*dst = v
	}
}

// anyDuration reads a duration of either sign, at most maxDuration long.
func (d *decoder) anyDuration(n *yaml.Node, path string) (string, time.Duration, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return s, 0, false
	}
	var v time.Duration
	if n.Tag == "!!int" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec > int64(maxDuration/time.Second) || sec < -int64(maxDuration/time.Second) {
			d.errorf(path, "%q seconds is too long (maximum %v)", s, maxDuration)
			return s, 0, false
		}
		v = time.Duration(sec) * time.Second
	} else {
		var err error
		v, err = time.ParseDuration(s)
		if err != nil {
			d.errorf(path, "%q is not a duration (write seconds as an integer, or a Go duration such as \"90s\" or \"24h\")", s)
			return s, 0, false
		}
	}
	if v > maxDuration || v < -maxDuration {
		d.errorf(path, "%q is too long (maximum %v)", s, maxDuration)
		return s, 0, false
	}
	return s, v, true
}

func (d *decoder) addr(n *yaml.Node, path string, dst *netip.Addr) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		d.errorf(path, "%q is not an IP address", s)
		return
	}
	*dst = a
}

// prefix reads "any", an address (a host prefix) or a CIDR prefix. "any"
// gives the zero Prefix. Host bits must be zero.
func (d *decoder) prefix(n *yaml.Node, path string, dst *netip.Prefix) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	if s == "any" {
		*dst = netip.Prefix{}
		return
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errorf(path, "%q is not an IP address or prefix", s)
			return
		}
		*dst = netip.PrefixFrom(a, a.BitLen())
		return
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		d.errorf(path, "%q is not an IP prefix", s)
		return
	}
	if p.Masked() != p {
		d.errorf(path, "%q has host bits set (did you mean %s?)", s, p.Masked())
		return
	}
	*dst = p
}

func (d *decoder) int64(n *yaml.Node, path string, lo, hi int64) int64 {
	v, _ := d.integer(n, path, lo, hi)
	return v
}

var (
	netipZero       netip.Addr
	netipPrefixZero netip.Prefix
)
