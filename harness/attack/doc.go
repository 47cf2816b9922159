// Package attack generates hostile traffic for the robustness suite: what
// an attacker on the WAN can send to a key server or a group member without
// any key, or with what it recorded or learned from the wire.
//
// Every generator builds its datagrams by hand, octet by octet, from the
// RFCs (RFC 2408/2409 for ISAKMP and main mode, RFC 6407 for GDOI, RFC 4303
// for ESP), so the bench attacks an implementation with its own idea of the
// protocol and never with the code under test. Generators return bytes or
// write to a socket the caller opened in the attacking node's network
// namespace (see UDP and Raw), so any node of any runtime can run them.
//
// Nothing here decides a verdict: the suites compare what the target did
// (its process, its state, the wire) with what the RFCs and the seeds say.
package attack
