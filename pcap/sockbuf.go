package pcap

import (
	"errors"
	"os"
	"reflect"
	"unsafe"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// captureBuffer is the receive buffer of every capture socket. The
// kernel's default (net.core.rmem_default, about 200 KB: some ninety
// frames at their in-kernel size) overflows in a burst a loaded machine's
// reader cannot drain at once — a key server's rekey to a thousand group
// members is a thousand PUSHes and a thousand acknowledgements within a
// few hundred milliseconds — and a frame the socket drops is missing from
// the file. Network namespaces cannot raise the default.
const captureBuffer = 32 << 20

// enlargeBuffer raises h's socket receive buffer to n octets, past
// net.core.rmem_max where the process may (CAP_NET_ADMIN).
func enlargeBuffer(h *pcapgo.EthernetHandle, n int) error {
	return onSocket(h, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n); err != nil {
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
		return nil
	})
}

// askVnetHdr makes h's socket put a virtio-net header before each frame
// (PACKET_VNET_HDR), which says whether it is an offloaded superpacket and
// where its partial checksum is (gso.go).
func askVnetHdr(h *pcapgo.EthernetHandle) error {
	return onSocket(h, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1)
	})
}

// onSocket runs set on h's packet socket. pcapgo keeps the socket to
// itself: its file is reached by reflection, and a pcapgo without that
// field leaves the socket as it was (TestHandleFile notices).
func onSocket(h *pcapgo.EthernetHandle, set func(fd int) error) error {
	f := handleFile(h)
	if f == nil {
		return errors.New("pcap: pcapgo.EthernetHandle has no file field")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = set(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// handleFile is the *os.File of h's packet socket, or nil.
func handleFile(h *pcapgo.EthernetHandle) *os.File {
	v := reflect.ValueOf(h).Elem().FieldByName("file")
	if !v.IsValid() || v.Type() != reflect.TypeFor[*os.File]() {
		return nil
	}
	return (*os.File)(unsafe.Pointer(v.Pointer()))
}
