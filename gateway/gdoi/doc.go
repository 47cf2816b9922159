// Package gdoi is the GDOI exchanges of RFC 6407 as state machines:
// GROUPKEY-PULL (registration) between a group member and a key server, and
// the policy model both sides turn its SA and KD payloads into and out of.
// Like package ikev1 it does no I/O: the roles (packages ks and gm) own the
// sockets and timers.
package gdoi
