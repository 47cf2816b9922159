package nsdo

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestCreateNamedAndDo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	var b [4]byte
	rand.Read(b[:])
	name := "glnd-" + hex.EncodeToString(b[:])
	path, err := CreateNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.DeleteNamed(name) })

	host, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	var loUp bool
	err = Do(path, func() error {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		loUp = lo.Attrs().Flags&(1<<0) != 0 // net.FlagUp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside == host {
		t.Errorf("Do ran in the host namespace %s", host)
	}
	if !loUp {
		t.Errorf("loopback of a new namespace is down")
	}
	if err := Do("/run/netns/does-not-exist", func() error { return nil }); err == nil {
		t.Errorf("Do on a missing namespace succeeded")
	}
	if _, err := CreateNamed(name); err == nil {
		t.Errorf("creating %s twice succeeded", name)
	}
}
