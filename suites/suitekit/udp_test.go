package suitekit

import (
	"net"
	"os"
	"testing"
	"time"
)

// A bound socket is found, and what was sent to it and not read is its
// backlog, from this process's /proc.
func TestUDPSockets(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	if err := udpBound(os.Getpid(), port); err != nil {
		t.Fatal(err)
	}
	if n, err := UDPBacklog(os.Getpid(), port); err != nil || n != 0 {
		t.Fatalf("backlog %d before anything was sent: %v", n, err)
	}
	for range 3 {
		if _, err := conn.WriteToUDP(make([]byte, 100), conn.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	n, _ := UDPBacklog(os.Getpid(), port)
	for n == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n, _ = UDPBacklog(os.Getpid(), port)
	}
	if n < 300 {
		t.Errorf("backlog %d octets after three unread 100-octet datagrams", n)
	}
}
