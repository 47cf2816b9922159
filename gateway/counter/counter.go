// Package counter is the catalogue of the daemon's counters: every name
// the key server, the group member and the daemon count under (GET
// /v1/counters, getctl show counters). A Name can only be one of the
// values below, so a misspelt counter does not compile instead of quietly
// starting a new one, and this file says what each counts. The data
// plane's verdict counters are its own (gateway/dataplane), and the event
// log counts events by their names.
package counter

import "slices"

// Name is one counter.
type Name struct{ name string }

// String is the counter's name as the control API shows it.
func (n Name) String() string { return n.name }

// Datagrams.
var (
	PacketsReceived          = def("packets_received")           // datagrams read from the GDOI socket
	MulticastPacketsReceived = def("multicast_packets_received") // datagrams read from a joined rekey group
	ReceiveErrors            = def("receive_errors")             // reads that failed
	SendErrors               = def("send_errors")                // sends that failed
	MalformedPackets         = def("malformed_packets")          // datagrams that do not parse
	UnexpectedPackets        = def("unexpected_packets")         // well-formed, but not for any exchange in progress
	UnsupportedExchange      = def("unsupported_exchange")       // an exchange type the role does not take
	InternalError            = def("internal_error")             // a worker recovered from a panic on an input
	MulticastJoinFailures    = def("multicast_join_failures")    // a GM could not join a rekey group
)

// Phase 1 (IKEv1 main mode).
var (
	IKESAEstablished = def("ike_sa_established")
	IKESAExpired     = def("ike_sa_expired")
	IKESAReplaced    = def("ike_sa_replaced")     // a peer's oldest SA dropped past the per-peer cap
	IKESAGlobalLimit = def("ike_sa_global_limit") // an SA refused at the global cap
	IKESAStale       = def("ike_sa_stale")        // a GM dropped an SA its KS no longer has
	IKEFailed        = def("ike_failed")          // a main mode that failed otherwise
	// Main modes that failed with the notification the KS answered.
	IKEFailedNoProposalChosen     = def("ike_failed_no_proposal_chosen")
	IKEFailedAuthenticationFailed = def("ike_failed_authentication_failed")
	IKEFailedPayloadMalformed     = def("ike_failed_payload_malformed")
	IKEFailedInvalidID            = def("ike_failed_invalid_id")
	IKEFailedInvalidHash          = def("ike_failed_invalid_hash")
	IKENoPSK                      = def("ike_no_psk") // message 1 from a source without a pre-shared key
	IKEUnauthorizedIdentity       = def("ike_unauthorized_identity")
	IKEUnknownCookies             = def("ike_unknown_cookies") // main mode for an exchange the KS does not hold
	IKEDHComputed                 = def("ike_dh_computed")     // Diffie-Hellman computations (the expensive step)
	IKEDHQueueFull                = def("ike_dh_queue_full")
	IKEDHRateLimited              = def("ike_dh_rate_limited")
	IKEHalfOpenExpired            = def("ike_half_open_expired")
	IKEHalfOpenReplaced           = def("ike_half_open_replaced")
	IKEHalfOpenPerSourceLimit     = def("ike_half_open_per_source_limit")
	IKEHalfOpenGlobalLimit        = def("ike_half_open_global_limit")
	IKECookieChallenge            = def("ike_cookie_challenge") // message 1s answered with a stateless cookie
	IKECookieVerified             = def("ike_cookie_verified")
	IKECookieSACacheMiss          = def("ike_cookie_sa_cache_miss")
	IKECookieSAEvicted            = def("ike_cookie_sa_evicted")
	IKECookieSATooLarge           = def("ike_cookie_sa_too_large")
	InformationalUnknownSA        = def("informational_unknown_sa")
	// Dead peer detection (RFC 3706).
	DPDSent                  = def("dpd_sent")            // R-U-THEREs sent
	DPDAcked                 = def("dpd_acked")           // R-U-THERE-ACKs of ours taken
	DPDAnswered              = def("dpd_answered")        // peers' R-U-THEREs answered
	DPDUnexpected            = def("dpd_unexpected")      // DPD notifications for another SA, or answers nobody asked for
	DPDPeerDead              = def("dpd_peer_dead")       // peers that answered none of five R-U-THEREs
	InvalidCookieSent        = def("invalid_cookie_sent") // INVALID-COOKIE answers to messages on unknown SAs
	InvalidCookieRateLimited = def("invalid_cookie_rate_limited")
	InvalidCookieTooLarge    = def("invalid_cookie_too_large")
	InvalidCookieReceived    = def("invalid_cookie_received") // on a GM
	InvalidCookieIgnored     = def("invalid_cookie_ignored")  // a GM's INVALID-COOKIE it could not tie to an attempt
)

// Cooperative key servers (KS).
var (
	COOPAnnSent              = def("coop_ann_sent")              // announcements sent
	COOPAnnReceived          = def("coop_ann_received")          // announcements accepted
	COOPPacketDropped        = def("coop_packet_dropped")        // announcements too large to send
	COOPBadANN               = def("coop_bad_ann")               // announcements that do not decrypt, verify or parse
	COOPUnknownSA            = def("coop_unknown_sa")            // announcements on a phase-1 SA this KS does not hold
	COOPUnauthorized         = def("coop_unauthorized")          // announcements from a KS that is not a peer of the group
	COOPConfigMismatch       = def("coop_config_mismatch")       // a peer's signing key or group policy differs
	COOPIKEFailed            = def("coop_ike_failed")            // main modes to a peer that got no answer
	COOPRegistrationsBlocked = def("coop_registrations_blocked") // registrations refused by a secondary without the group's keys
)

// Registration (GROUPKEY-PULL).
var (
	RegistrationsVersionMismatch = def("registrations_version_mismatch") // GMs of another GDOI major version refused (PV-01)
	Registrations                = def("registrations")
	RegistrationsRejected        = def("registrations_rejected") // refused by a KS (unknown group, unauthorized, ...)
	RegistrationFailures         = def("registration_failures")  // a GM's failed attempts
	Retransmits                  = def("retransmits")            // a GM's retransmitted messages
	PullUnknownSA                = def("pull_unknown_sa")
	KSHashFail                   = def("ks_hash_fail")
	ReregistrationClamped        = def("reregistration_clamped") // lifetimes too short for the seeds' point
	ReregistrationsCancelled     = def("reregistrations_cancelled")
)

// Rekeys (GROUPKEY-PUSH) and their acknowledgements (RFC 8263).
var (
	RekeysSent          = def("rekeys_sent")
	RekeyReminders      = def("rekey_reminders") // periodic reminders to GMs that did not acknowledge (RK-31)
	RekeyRetransmits    = def("rekey_retransmits")
	RekeyFailures       = def("rekey_failures")
	RekeysReceived      = def("rekeys_received")
	RekeyReplayed       = def("rekey_replayed")
	RekeyBadSignature   = def("rekey_bad_signature")
	RekeyMalformed      = def("rekey_malformed")
	RekeyInstallFailed  = def("rekey_install_failed")
	RemovalIgnored      = def("removal_ignored")     // a GM-removal message a GM staged without gm-removal ignored
	FeatureUnsupported  = def("feature_unsupported") // a KS action some members' GDOI version cannot support (RK-51, RK-62)
	RekeyUnknownKEK     = def("rekey_unknown_kek")
	RekeyAcksSent       = def("rekey_acks_sent")
	RekeyAckFailures    = def("rekey_ack_failures")
	RekeyAckUnsupported = def("rekey_ack_unsupported")
	RekeyAcksReceived   = def("rekey_acks_received")
	RekeyAcksMissed     = def("rekey_acks_missed")
	AckUnknownKEK       = def("ack_unknown_kek")
	AckInvalid          = def("ack_invalid")
	AckBadHash          = def("ack_bad_hash")
	AckUnrequested      = def("ack_unrequested")
	AckUnsolicited      = def("ack_unsolicited")
	AcksDuplicate       = def("acks_duplicate")
	AcksLate            = def("acks_late")
	GMDeleted           = def("gm_deleted") // GMs the KS deleted for missing acknowledgements
)

// all is every counter, in the order declared: def adds each, so a
// counter cannot be left out of All.
var all []Name

// def declares the counter name.
func def(name string) Name {
	n := Name{name}
	all = append(all, n)
	return n
}

// All is every counter, for tests and documentation.
func All() []Name { return slices.Clone(all) }
