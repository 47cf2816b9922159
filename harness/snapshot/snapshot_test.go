package snapshot

import (
	"os"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/nsdo"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestNode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	name := "glsn-" + strings.ReplaceAll(t.Name(), "/", "-")
	path, err := nsdo.CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.DeleteNamed(name) })
	err = nsdo.Do(path, func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wan0", MTU: 1400}, PeerName: "wan1"}); err != nil {
			return err
		}
		l, err := netlink.LinkByName("wan0")
		if err != nil {
			return err
		}
		addr, _ := netlink.ParseAddr("192.0.2.7/24")
		if err := netlink.AddrAdd(l, addr); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Node(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wan0 veth", "mtu 1400", "wan0 192.0.2.7/24", "192.0.2.0/24 dev wan0"} {
		if !strings.Contains(got, want) {
			t.Errorf("snapshot lacks %q:\n%s", want, got)
		}
	}
	if _, err := Node("/run/netns/does-not-exist"); err == nil {
		t.Errorf("snapshot of a missing namespace succeeded")
	}
}
