package main

import (
	"net/netip"
	"testing"
)

// A peer's datagrams always go to the same worker, every worker gets some
// of many peers', and choosing allocates nothing.
func TestShard(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.11")
	if shard(a, 4) != shard(a, 4) {
		t.Fatal("one address, two workers")
	}
	seen := map[int]int{}
	for i := range 256 {
		seen[shard(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), 4)]++
	}
	if len(seen) != 4 {
		t.Fatalf("256 peers over %d of 4 workers: %v", len(seen), seen)
	}
	if n := testing.AllocsPerRun(100, func() { shard(a, 2) }); n != 0 {
		t.Fatalf("%v allocations per datagram", n)
	}
}
