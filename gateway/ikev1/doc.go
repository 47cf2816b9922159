// Package ikev1 is IKEv1 phase 1 as GDOI uses it (RFC 2409 main mode on UDP
// 848, RFC 6407 §2): the suites and key derivations, main mode initiator and
// responder, the phase-1 SA that GROUPKEY-PULL and Informational exchanges
// are protected with, notifications and DPD (RFC 3706).
//
// The package does no I/O: its state machines take datagrams and return the
// datagrams to send, so the daemon owns sockets, timers and retransmission.
package ikev1
