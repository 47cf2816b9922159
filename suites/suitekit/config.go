package suitekit

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/scenario"
	. "github.com/onsi/gomega"
)

// Run runs argv in node and returns its standard output, failing the spec
// with its standard error when it does not exit 0: an operator's command
// (an implementation's rekey, clear, reload or direction command).
func Run(ctx context.Context, lab *netns.Lab, node string, argv []string) string {
	var out, errb bytes.Buffer
	err := lab.Exec(ctx, node, argv, nil, &out, &errb)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%v on %s: %s%s", argv, node, errb.String(), out.String())
	return out.String()
}

// RewriteConfig renders node's config again from model, with its role's
// implementation, and writes it where the node reads it: the host file the
// topology binds at the implementation's config path (RenderScenario),
// rewritten in place, so that the node's bind — the same file — shows the
// new text. It checks that the node sees it through its own file view
// (/proc/<pid>/root), as the daemon will when told to reload
// (capability reload).
func RewriteConfig(lab *netns.Lab, node string, role impl.Role, model *scenario.Scenario) {
	im := Impl(role)
	tn := lab.Topology().Node(node)
	Expect(tn).NotTo(BeNil(), "no node %s", node)
	host := ""
	for _, b := range tn.Binds {
		if b.Node == im.Config.Path {
			host = b.Host
		}
	}
	Expect(host).NotTo(BeEmpty(), "node %s binds nothing at %s, where %s reads its config", node, im.Config.Path, im.Name)
	out, err := im.Render(role, model, node)
	Expect(err).NotTo(HaveOccurred(), "rendering %s's config with %s", node, im.Name)
	// In place (truncate and write, the same inode): a bind mount of a
	// file follows the inode, so a new file renamed over it would not
	// show in the node.
	f, err := os.OpenFile(host, os.O_WRONLY|os.O_TRUNC, 0)
	Expect(err).NotTo(HaveOccurred())
	_, err = f.Write(out)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Close()).To(Succeed())
	n := lab.Node(node)
	Expect(n).NotTo(BeNil(), "no node %s", node)
	seen, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s", n.Holder, im.Config.Path))
	Expect(err).NotTo(HaveOccurred(), "%s's config in its own file view", node)
	Expect(string(seen)).To(Equal(string(out)), "%s sees the rewritten config at %s", node, im.Config.Path)
}
