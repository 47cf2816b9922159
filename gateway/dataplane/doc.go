// Package dataplane is a group member's ESP data plane: it classifies every
// packet the GM forwards against the merged group policy and encrypts,
// decrypts, passes or drops it (S0 §3.6.4, Table 5; seed-features GM-40,
// DP-01..DP-03).
//
// # Where packets come from
//
// The GM sits in the forwarding path through two TUN devices, a raw ESP
// socket and policy routing (DESIGN.md "Data plane on a GM";
// device_linux.go): packets the kernel forwards from the LAN side are
// routed into the LAN TUN; ESP from the WAN side (the registration
// interface) is delivered locally to the ESP socket and read a batch per
// recvmmsg; other packets it forwards from the WAN side go into the WAN
// TUN. Engine.Outbound handles the first kind, Engine.Inbound the others,
// and results go back into a TUN (the LAN's for Outbound, the WAN's for
// Inbound), from where the kernel routes them on by their (outer)
// destination — except, with Options.ESPOut, the ESP Outbound makes, which
// the device sends through raw sockets, a batch per sendmmsg, the GM's own
// output path. The TUNs carry virtio-net headers: one read brings a whole
// TCP or UDP offload superpacket, split into segments, and writes go a
// batch at a time so that the TUN coalesces segments again. Packets for the GM itself
// (GDOI on UDP 848, and anything else addressed to the GM) are delivered
// locally before those rules, and packets the GM sends are routed by the
// main table: the GM's own control traffic is never caught. While no data
// plane runs (before it starts, after a crash, a kill or a stop), blackhole
// routes in its tables drop what the rules send there, unless the daemon
// is configured to let it pass (DeviceOptions.Guard).
//
// # Policy
//
// For each registered group, in configuration order, the merged policy is:
// the GM's local deny entries, then the key server's deny entries, then the
// key server's permits, each permit with the TEK SAs that protect it
// (several during a rollover). Outbound, the first entry that matches
// decides; inbound, a packet is first decrypted if an SA knows its SPI, then
// the deny entries of every group are tried before any permit:
//
//	outbound: deny → clear; permit with an SA → ESP; permit without → drop
//	inbound:  ESP with a known SPI → decrypt, and the inner packet must match
//	          the SA's permit entry; unknown SPI → drop unless a deny matches;
//	          clear traffic matching a permit → drop; deny or no match → clear
//
// Before a group's first registration there is no policy and every packet
// passes in clear (fail-open, GM-50), unless fail-close is activated: then
// the fail-close ACL comes after every group's policy, a deny entry passing
// the packet in clear and anything else (its permits, the implicit final
// permit ip any any) dropping it, both ways, until every group has
// installed keys (GM-51, GM-53). The GM's own GDOI traffic never passes
// through the data plane, so it is always sent (GM-52, and the hardened
// bypass policy of GM-70: the GM's own address, any port), while GDOI of
// other GMs forwarded through this one is policy like any traffic.
//
// Each group has an SA direction mode (S0 Table 5, GM-60…GM-64), which the
// GM sets from the TEKs' SA_DIRECTION, its passive setting and the local
// direction command: "both" (conformant, as above), "inbound-only" (the
// KS's receive-only: matching traffic is sent in clear, clear traffic
// matching a permit accepted beside ciphertext) and "inbound-optional"
// (passive: clear accepted as in inbound-only, matching traffic
// encrypted). A local deny matches inbound clear
// traffic with source and destination swapped ("ios"), as written ("iosxe")
// or both ways ("accept-both"), after seed-features GM-41/GM-42. KS entries
// match inbound traffic as written (the "centralized model", KS-13).
//
// # Encapsulation
//
// ESP tunnel mode with address preservation (gateway/esp SealTunnel): the
// outer header carries the inner source, destination and TOS; DF follows
// the df-bit policy. GCM IVs are the GM's Sender-ID and a counter (RFC 6054),
// CBC IVs unpredictable. Group SAs have no counter-based anti-replay. A
// packet that would exceed the WAN MTU once encrypted is fragmented before
// encryption when DF is clear (each fragment is its own ESP packet, so the
// receiving GM need not reassemble), or dropped with an ICMP "fragmentation
// needed" carrying the inner MTU when DF is set (S0 DP-42: 1500 - overhead).
// ESP that a router on the path fragmented after encryption reaches the
// device's ESP socket reassembled by the kernel; the engine drops
// fragments that reach it any other way (InDropFragment).
// With Options.TCPMSS, the MSS option of a TCP SYN or SYN-ACK is lowered
// before encryption and after decryption (IOS "ip tcp adjust-mss", DP-40),
// so that TCP's segments fit the WAN MTU once encrypted without
// fragmenting or ICMP (TCPMSSClamped).
//
// # Multicast
//
// The kernel forwards no multicast into the TUNs (and the GMs' kernels
// may have no multicast routing at all), so for the LAN interfaces
// DeviceOptions.MulticastLAN names the data plane routes protected
// IPv4 multicast itself, as a router would (DP-60; multicast.go): packet
// sockets with kernel filters read each LAN's multicast and the WAN's
// ESP to groups. Worker.OutboundMulticast classifies a LAN packet as
// Outbound does; a permit with an SA encrypts it, TTL first decremented,
// to the same group (the outer header keeps it, so the core replicates
// the one copy), a permit without one drops it, and anything else is
// not forwarded at all: the GM is no multicast router for clear traffic.
// Worker.InboundMulticast decrypts the WAN's (ESP no SA knows is
// dropped), and the inner packet, TTL decremented, goes out of every such
// LAN interface to the group's MAC address. Link-local groups
// (224.0.0.0/24) are never routed; a TTL that would run out drops the
// packet either way. The GM joins no group, so the kernel never also
// delivers that ESP to the ESP socket.
//
// # Counters and events
//
// Every verdict has a counter (Counter), every SA packet and byte counters;
// Engine.Status returns them for the control socket. Bad input (malformed
// packets, unknown SPIs, ESP too short for its SA, failed integrity checks,
// policy violations) is dropped, counted and logged with the Cisco event
// names, at most once a second per event name with the number suppressed in
// between; the data plane keeps running and keeps its keys. A packet that
// hits a bug (a panic) is dropped and counted as internal_error, and the
// worker goes on (Inbound and Outbound recover).
package dataplane
