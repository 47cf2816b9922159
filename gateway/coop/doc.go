// Package coop is the cooperative key server protocol of getvpnd (S0
// §3.7; seed-features CO-01…CO-53): the election of one primary among a
// group's key servers, the announcements (ANNs) that keep the
// secondaries' keys and member database in step with the primary, and
// failover when the primary falls silent. The wire format is getvpnd's
// own (package gateway/wire/coop documents it); Seal and Open protect an
// ANN under the IKEv1 phase-1 SA a pair of KSs keeps.
//
// A Node is one group's COOP state on one KS. It keeps no lock, starts no
// timer and does no I/O: the KS calls it under its lock with the time,
// and it asks the KS, through Host, to send ANNs and to take or give up
// the primary role.
//
// # Roles and timers
//
// Every KS starts as a secondary in an election (COOP_KS_ELECTION,
// "Previous Primary = NONE"): it sends an ANN with the reply-request flag
// to every peer, again half a refresh interval later, and decides one
// refresh interval after starting. A KS that hears a primary follows it,
// whatever the priorities (no pre-emption, CO-12). Otherwise the highest
// priority among itself and the peers that answered wins, the highest
// address breaking a tie (CO-11); the winner becomes primary
// (COOP_KS_TRANS_TO_PRI on every KS that learns of it, C-26) and the others
// wait for its ANN.
//
// The primary sends an ANN to every peer each refresh interval (20 s,
// CO-13). A secondary that has not heard the primary for the periodic
// interval (30 s, CO-14) enters an election: it sends reply-request ANNs
// to every peer, retransmit times (2, CO-15) one periodic interval apart,
// and decides one periodic interval after the last. A primary that dies
// is therefore replaced Periodic × (1 + Retransmit) after its last ANN:
// 90 s with the seeds' timers, as S0 §3.7.4.1 measures it ("it takes 90
// seconds for a new KS to transition to primary state"; §1.2.7's 60 s is
// the other reading of C-05).
//
// A primary that hears a primary of higher priority (a healed split)
// becomes a secondary of it (CO-51); one of lower priority is answered at
// once so that it does the same.
//
// # Peer status
//
// The primary tracks every secondary (CO-10): alive while it has a
// phase-1 SA with it that dead peer detection has not declared dead, dead
// after; COOP_KS_UNREACH is logged for each dead peer at every refresh
// (every 20 s, CO-18; IOS logs the first failed one only, CSCsl52477),
// COOP_KS_REACH once when an ANN from it arrives again. A secondary
// tracks only the primary; the other secondaries are unknown to it.
//
// # State sync
//
// Every ANN carries the sender's group policy and keys when it holds
// them (a KS that has just started holds none until an ANN gives it the
// group's, or it becomes primary and makes them) and its member database.
// A secondary takes the keys of its primary's ANNs; during an election a
// KS takes them from any peer, so that a KS that restarts rejoins with the
// group's keys instead of making its own. Every KS merges every peer's
// members. Members a KS registers are announced in a batch 5 s after the
// first (CO-17); new keys are announced at once, so that a GM registering
// at a secondary gets the keys the primary's rekey just sent.
package coop
