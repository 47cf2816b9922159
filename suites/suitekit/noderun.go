package suitekit

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/topo"
	. "github.com/onsi/gomega"
	"gopkg.in/yaml.v3"
)

// ImplLabel names, on a node of a topology copy rendered from the neutral
// model, the implementation the node runs (its registry name): artifacts
// and key logs are read the implementation's way.
const ImplLabel = "getlab.impl"

// hostImage is the image a node takes on the netns runtime when it runs an
// implementation's command: the netns runtime's image without a process of
// its own, which runs the node's cmd as given.
const hostImage = "getlab/host:dev"

// runImpl rewrites node in the topology file at path (a copy) to run im
// in role on the suites' runtime, as implementation.yaml says: on netns
// its run.netns command, on docker its run.docker image and command. The
// node keeps everything else (links, binds, exec lines, devices), and
// gets the label ImplLabel.
func runImpl(path, node string, im *impl.Impl, role impl.Role) {
	rt := Runtime()
	image, argv, err := im.Command(rt, impl.CommandData{
		Config: im.Config.Path, Bin: netns.DefaultBinDir(), Node: node, Role: role,
	})
	Expect(err).NotTo(HaveOccurred(), "how %s runs on the %s runtime", im.Name, rt)
	if rt == "netns" {
		image = hostImage
	}
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var doc yaml.Node
	Expect(yaml.Unmarshal(b, &doc)).To(Succeed())
	n := mapping(&doc, "topology", "nodes", node)
	Expect(n).NotTo(BeNil(), "%s: no node %s", path, node)
	setScalar(n, "image", image)
	if len(argv) > 0 {
		setScalar(n, "cmd", shellwords.Join(argv))
	} else {
		deleteKey(n, "cmd") // the image's own command
	}
	labels := mapping(n, "labels")
	if labels == nil {
		labels = &yaml.Node{Kind: yaml.MappingNode}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "labels"}, labels)
	}
	setScalar(labels, ImplLabel, im.Name)
	out, err := yaml.Marshal(&doc)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(path, out, 0o644)).To(Succeed())
}

// SetCmd is an Edit setting node's cmd in the topology copy of file to
// argv: a node whose flags a spec chooses (the GM swarm's count and exit
// condition).
func SetCmd(file, node string, argv []string) Edit {
	return func(dir string) {
		path := filepath.Join(dir, file)
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		var doc yaml.Node
		Expect(yaml.Unmarshal(b, &doc)).To(Succeed())
		n := mapping(&doc, "topology", "nodes", node)
		Expect(n).NotTo(BeNil(), "%s: no node %s", file, node)
		setScalar(n, "cmd", shellwords.Join(argv))
		out, err := yaml.Marshal(&doc)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(path, out, 0o644)).To(Succeed())
	}
}

// mapping walks keys down from n (a document or a mapping) and returns the
// mapping found, or nil.
func mapping(n *yaml.Node, keys ...string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, k := range keys {
		next := value(n, k)
		if next == nil || next.Kind != yaml.MappingNode {
			return nil
		}
		n = next
	}
	return n
}

// value is the value of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setScalar sets key to the string v in mapping m, replacing its value or
// adding the key.
func setScalar(m *yaml.Node, key, v string) {
	s := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = s
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, s)
}

// deleteKey removes key from mapping m.
func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// nodeKeyLog is where node writes its key log in its file view: its
// implementation's keylog path on a node rendered from the model (label
// ImplLabel), "" when that implementation writes none; NodeKeyLog on a
// node running the topology's own getvpnd config.
func nodeKeyLog(n *topo.Node) string {
	name, ok := n.Labels[ImplLabel]
	if !ok {
		return NodeKeyLog
	}
	im, err := lookupImplNamed(name)
	if err != nil || im.Caps.KeyLog == nil {
		return ""
	}
	return im.Caps.KeyLog.Path
}

// keyLogOf reads node's key log through the file view of its holder
// process, prefixed with a line naming the node; nil when there is none.
func keyLogOf(lab *netns.Lab, n *netns.Node) []byte {
	tn := lab.Topology().Node(n.Name)
	if tn == nil || n.Holder == 0 {
		return nil
	}
	path := nodeKeyLog(tn)
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", n.Holder, path))
	if err != nil {
		return nil
	}
	return append([]byte(fmt.Sprintf("# from %s (%s)\n", n.Name, path)), b...)
}
