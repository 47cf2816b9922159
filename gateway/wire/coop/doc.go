// Package coop is the wire codec of getvpnd's cooperative key server
// announcements (COOP ANN). Cisco's COOP has no public wire format
// (protocols.md §5), so getvpnd defines its own, built from ISAKMP and
// GDOI pieces so that tshark reads it as ISAKMP and the project's decoder
// reads it fully. Codec only: sealing under the phase-1 SA and the
// protocol are package gateway/coop.
//
// # Message
//
// An announcement is one ISAKMP message on UDP 848 between two key
// servers, protected by the IKEv1 phase-1 SA they keep (S0 §3.7.1: "secured
// with IKE phase-1 keys"), exactly as a GROUPKEY-PULL message is: the
// header carries the SA's cookies, the private-use exchange type 240
// (RFC 2408 §3.1 reserves 240-255 for private use), the E flag and a
// random non-zero message ID; the body is CBC-encrypted with the SA's
// key and an IV of hash(last phase-1 CBC block | M-ID):
//
//	HDR*(240), HASH, ANN [, SA, KD] [, MEMBERS]
//
//	HASH = prf(SKEYID_a, M-ID | ANN [| SA | KD] [| MEMBERS])
//
// the payloads with their generic headers, as GDOI's HASH(1)…HASH(4). ANN
// (private payload type 240) and MEMBERS (241) are laid out below. SA and
// KD are the RFC 6407 payloads of GROUPKEY-PULL message 4 (a GDOI SA with
// its SA KEK and SA TEKs, the KD with the KEK's and TEKs' keys): the
// sender's group policy and keys, present when the ANN's POLICY flag is
// set. Their lifetimes are the remaining ones; the ANN's ages are the
// precise values a receiver uses.
//
// # ANN payload (type 240)
//
//	                     1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	! Next Payload  !   RESERVED    !         Payload Length        !
//	+---------------+---------------+---------------+---------------+
//	!    Major      !    Minor      !    Patch      !    Flags      !
//	+---------------+---------------+---------------+---------------+
//	!   Priority    !                  RESERVED                     !
//	+---------------+---------------+---------------+---------------+
//	!                           Group ID                            !
//	+---------------------------------------------------------------+
//	!                 Rekey Sequence Number (reserved)              !
//	+---------------------------------------------------------------+
//	!                 Anti-replay Sequence Number (64)              !
//	+---------------------------------------------------------------+
//	!                 Pseudotime, milliseconds (64)                 !
//	+---------------------------------------------------------------+
//	!                 KEK Age, milliseconds (64)                    !
//	+---------------------------------------------------------------+
//	~                 Signing Key Digest (32 octets)                ~
//	+---------------------------------------------------------------+
//	~                 Policy Digest (32 octets)                     ~
//	+-------------------------------+-------------------------------+
//	!       Generation Count        !           RESERVED            !
//	+-------------------------------+-------------------------------+
//	~  Generations: TEK Count (2), RESERVED (2), Age ms (8) each    ~
//	+---------------------------------------------------------------+
//
// Version is the sender's GDOI version (S0 §3.15, major.minor.mini, the
// one its main mode announces); KSs of different major or minor versions
// do not cooperate (PV-01, CO-60). Flags: REPLY-REQUEST (0x01, the
// sender asks every receiver to answer with an ANN of its own, CO-14),
// REPLY (0x02, this ANN answers one), PRIMARY (0x04, the sender is the
// group's primary), POLICY (0x08, SA and KD follow), ELECTING (0x10, the
// sender is in an election). Priority is the sender's local priority
// (1-255). The Rekey Sequence Number is the highest GROUPKEY-PUSH
// sequence number the sender has used or may still use in the rekey in
// progress (its retransmissions included), so that a new primary never
// goes backwards. The Anti-replay Sequence Number rises by one with every
// ANN the sender sends to this peer, whatever the phase-1 SA, from the
// sender's clock when it started, in microseconds since 1970 (so that a
// restarted sender's numbers are above its old ones); the receiver drops
// any not above the last it accepted from that peer, so that an ANN held
// back and injected later changes nothing. Pseudotime is the sender's
// group clock, protocol milliseconds since the group's keys were first
// made (CO-61). KEK Age is the protocol time since the KEK was made.
// Signing Key Digest is SHA-256 of the rekey public key (SPKI DER): KSs
// must share one (KS-23). Policy Digest is SHA-256 over the group policy
// a KS is configured with (ACL, transforms, lifetimes, rekey transport):
// differing digests are a COOP_CONFIG_MISMATCH (CO-22). The generations
// list the SA's TEKs in order, oldest first, as the sender keeps them:
// each generation's TEK count and age.
//
// # MEMBERS payload (type 241)
//
//	!                        Member Count                           !
//	+---------------+---------------+-------------------------------+
//	!    Flags      !   RESERVED    !        Registrations          !
//	+---------------+---------------+-------------------------------+
//	!              Seconds Since Registration                       !
//	+---------------------------------------------------------------+
//	!                    IPv4 Address                               !
//	+---------------------------------------------------------------+
//	                 ... 12 octets per member
//
// the group members the sender has registered or learned of (the GM
// database every KS keeps, CO-21), 12 octets each: 2000 GMs make about
// 24,000 octets, the seeds' "25 KB for 2000 GMs" (S0 §3.7.1.1). Flags:
// LOCAL (0x01, the sender itself registered it).
package coop
