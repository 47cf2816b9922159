package dataplane

// Counter is one verdict the data plane counts.
type Counter int

// Verdict counters. Their names (CounterName) are part of the control API.
const (
	OutEncrypted        Counter = iota // permit with an SA: sent as ESP
	OutClearDeny                       // local or KS deny entry: sent in clear
	OutClearNoMatch                    // no entry matches (or no policy yet): sent in clear
	OutDropNoSA                        // permit without a usable SA: dropped (fail-closed)
	OutDropTooBig                      // DF set, too big once encrypted: dropped, ICMP sent
	OutFragmented                      // DF clear, too big once encrypted: fragmented first
	OutDropIVExhausted                 // the SA's IV counter is used up
	InDecrypted                        // ESP with a known SPI, decrypted and within policy
	InClearDeny                        // clear (or unknown ESP) matching a deny entry: passed
	InClearNoMatch                     // clear traffic no entry matches: passed
	InDropClearPermit                  // clear traffic matching a permit: dropped
	InDropUnknownSPI                   // ESP with an SPI no SA has
	InDropAuth                         // ESP whose ICV does not verify
	InDropPolicy                       // decrypted packet outside its SA's permit entry
	InDropFragment                     // ESP arriving as IP fragments
	InDropDummy                        // ESP dummy packet (next header 59), discarded by design
	InDropShort                        // ESP with a known SPI, too short for its SA's transform (truncated or forged)
	DropMalformed                      // not a well-formed IPv4 packet (either side)
	DropNotIPv4                        // an IPv6 packet: not handled yet, and not routed to the TUNs
	WriteErrors                        // the result could not be written back
	ReadErrors                         // reading a TUN failed
	InternalErrors                     // a packet hit a bug (a recovered panic): dropped, the worker goes on
	OutClearInboundOnly                // permit match in a receive-only (inbound-only) group: sent in clear
	InClearOptional                    // clear traffic matching a permit of an inbound-only/optional group: passed
	OutClearFailClose                  // fail-close armed, a deny entry of its ACL matches: sent in clear
	OutDropFailClose                   // fail-close armed, no group encrypts it and its ACL does not deny it
	InClearFailClose                   // as OutClearFailClose, inbound
	InDropFailClose                    // as OutDropFailClose, inbound
	InDropQueueFull                    // ESP the kernel dropped: the ESP socket's (or the multicast WAN socket's) buffer was full
	// TCPMSSClamped counts a change, not a verdict: SYNs and SYN-ACKs,
	// either way, whose MSS option was lowered to Options.TCPMSS before
	// encryption or after decryption (the packet has its verdict too).
	TCPMSSClamped
	// Multicast the GM routes itself (DeviceOptions.MulticastLAN, DP-60).
	// A packet counted here has its general verdict too where one applies
	// (out_encrypted, out_drop_no_sa, in_decrypted, ...).
	McastOutEncrypted   // multicast from a LAN interface, sent as ESP to its group
	McastOutNotRouted   // multicast from a LAN interface no permit encrypts: not forwarded (no clear multicast routing)
	McastOutDropNoSA    // multicast from a LAN interface matching a permit without a usable SA: dropped
	McastInDecrypted    // multicast ESP from the WAN, decrypted, within policy, to a group
	McastInDelivered    // decrypted multicast sent out of a LAN interface: one per interface
	McastInDropNotGroup // multicast ESP whose decrypted packet is not to a routable group: dropped
	McastDropTTL        // multicast whose TTL is 1 or less, either way: dropped, as a router does
	numCounters
)

var counterNames = [numCounters]string{
	"out_encrypted", "out_clear_deny", "out_clear_no_match", "out_drop_no_sa",
	"out_drop_too_big", "out_fragmented", "out_drop_iv_exhausted",
	"in_decrypted", "in_clear_deny", "in_clear_no_match", "in_drop_clear_permit",
	"in_drop_unknown_spi", "in_drop_auth", "in_drop_policy", "in_drop_fragment",
	"in_drop_dummy", "in_drop_short", "drop_malformed", "drop_not_ipv4", "write_errors", "read_errors",
	"internal_error",
	"out_clear_inbound_only", "in_clear_optional",
	"out_clear_fail_close", "out_drop_fail_close", "in_clear_fail_close", "in_drop_fail_close",
	"in_drop_queue_full",
	"tcp_mss_clamped",
	"mcast_out_encrypted", "mcast_out_not_routed", "mcast_out_drop_no_sa",
	"mcast_in_decrypted", "mcast_in_delivered", "mcast_in_drop_not_group", "mcast_drop_ttl",
}

// CounterName is the counter's name in the control API.
func CounterName(c Counter) string { return counterNames[c] }
