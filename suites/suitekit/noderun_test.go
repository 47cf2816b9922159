package suitekit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/getlab/getlab/harness/impl"
	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/topo"
	. "github.com/onsi/gomega"
)

// runImpl makes a node of a topology copy run the implementation's own
// command, keeps the rest of the node and the other nodes as they were,
// and names the implementation in a label.
func TestRunImpl(t *testing.T) {
	RegisterTestingT(t)
	t.Setenv("GETLAB_RUNTIME", "netns")
	t.Setenv("GETLAB_BIN", "/opt/vendor/bin")
	src, err := os.ReadFile(filepath.Join("..", "..", "topologies", "basic.clab.yml"))
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "basic.clab.yml")
	Expect(os.WriteFile(path, src, 0o644)).To(Succeed())
	before, err := topo.Load(path)
	Expect(err).NotTo(HaveOccurred())

	im := &impl.Impl{Name: "vendor-ks"}
	im.Roles = []impl.Role{impl.KS}
	im.Run.NetNS = &impl.NetNSRun{Command: []string{"{{.Bin}}/vendor ksd", "-c", "{{.Config}}", "--name", "{{.Node}}"}}
	im.Config.Path = "/etc/getvpnd/getvpnd.yaml"
	runImpl(path, "ks1", im, impl.KS)

	after, err := topo.Load(path)
	Expect(err).NotTo(HaveOccurred(), "the rewritten topology still loads")
	ks1 := after.Node("ks1")
	Expect(ks1.Image).To(Equal(hostImage))
	argv, err := shellwords.Split(ks1.Cmd)
	Expect(err).NotTo(HaveOccurred())
	Expect(argv).To(Equal([]string{"/opt/vendor/bin/vendor ksd", "-c", "/etc/getvpnd/getvpnd.yaml", "--name", "ks1"}))
	Expect(ks1.Labels).To(HaveKeyWithValue(ImplLabel, "vendor-ks"))
	Expect(ks1.Labels).To(HaveKeyWithValue("getlab.role", "ks"))
	Expect(ks1.Binds).To(Equal(before.Node("ks1").Binds))
	Expect(ks1.Exec).To(Equal(before.Node("ks1").Exec))
	for _, name := range []string{"gm1", "gm2", "host-a"} {
		a, b := after.Node(name), before.Node(name)
		Expect([]any{a.Image, a.Cmd, a.Binds, a.Exec, a.Labels, a.Devices, a.Sysctls}).
			To(Equal([]any{b.Image, b.Cmd, b.Binds, b.Exec, b.Labels, b.Devices, b.Sysctls}), "%s is left alone", name)
	}
	Expect(nodeKeyLog(before.Node("gm1"))).To(Equal(NodeKeyLog), "a node of the topology's own config")

	// On docker: the implementation's image and command.
	t.Setenv("GETLAB_RUNTIME", "docker")
	im.Run.Docker = &impl.ImageRun{Image: "vendor/ks:1.2", Command: []string{"--config", "{{.Config}}"}}
	runImpl(path, "ks1", im, impl.KS)
	after, err = topo.Load(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(after.Node("ks1").Image).To(Equal("vendor/ks:1.2"))
	Expect(after.Node("ks1").Cmd).To(Equal("--config /etc/getvpnd/getvpnd.yaml"))
}
