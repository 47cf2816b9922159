package pcap

import (
	"os"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// TestHandleFile: pcapgo's EthernetHandle still keeps its socket in a
// field file *os.File, through which enlargeBuffer raises the capture
// sockets' buffers.
func TestHandleFile(t *testing.T) {
	f, ok := reflect.TypeFor[pcapgo.EthernetHandle]().FieldByName("file")
	if !ok || f.Type != reflect.TypeFor[*os.File]() {
		t.Fatalf("pcapgo.EthernetHandle has no field file *os.File (%v): the capture sockets keep the kernel's default buffer", f.Type)
	}
}
