// Package counter is the catalogue of the daemon's counters: every name
// the key server, the group member and the daemon count under (GET
// /v1/counters, getctl show counters). A Name can only be one of the
// values below, so a misspelt counter does not compile instead of quietly
// starting a new one, and this file says what each counts. The data
// plane's verdict counters are its own (gateway/dataplane), and the event
// log counts events by their names.
package counter

// Name is one counter.
type Name struct{ name string }

// String is the counter's name as the control API shows it.
func (n Name) String() string { return n.name }

// Datagrams.
var (
	PacketsReceived          = Name{"packets_received"}           // datagrams read from the GDOI socket
	MulticastPacketsReceived = Name{"multicast_packets_received"} // datagrams read from a joined rekey group
	ReceiveErrors            = Name{"receive_errors"}             // reads that failed
	SendErrors               = Name{"send_errors"}                // sends that failed
	MalformedPackets         = Name{"malformed_packets"}          // datagrams that do not parse
	UnexpectedPackets        = Name{"unexpected_packets"}         // well-formed, but not for any exchange in progress
	UnsupportedExchange      = Name{"unsupported_exchange"}       // an exchange type the role does not take
	InternalError            = Name{"internal_error"}             // a worker recovered from a panic on an input
	MulticastJoinFailures    = Name{"multicast_join_failures"}    // a GM could not join a rekey group
)

// Phase 1 (IKEv1 main mode).
var (
	IKESAEstablished = Name{"ike_sa_established"}
	IKESAExpired     = Name{"ike_sa_expired"}
	IKESAReplaced    = Name{"ike_sa_replaced"}     // a peer's oldest SA dropped past the per-peer cap
	IKESAGlobalLimit = Name{"ike_sa_global_limit"} // an SA refused at the global cap
	IKESAStale       = Name{"ike_sa_stale"}        // a GM dropped an SA its KS no longer has
	IKEFailed        = Name{"ike_failed"}          // a main mode that failed otherwise
	// Main modes that failed with the notification the KS answered.
	IKEFailedNoProposalChosen     = Name{"ike_failed_no_proposal_chosen"}
	IKEFailedAuthenticationFailed = Name{"ike_failed_authentication_failed"}
	IKEFailedPayloadMalformed     = Name{"ike_failed_payload_malformed"}
	IKEFailedInvalidID            = Name{"ike_failed_invalid_id"}
	IKEFailedInvalidHash          = Name{"ike_failed_invalid_hash"}
	IKENoPSK                      = Name{"ike_no_psk"} // message 1 from a source without a pre-shared key
	IKEUnauthorizedIdentity       = Name{"ike_unauthorized_identity"}
	IKEUnknownCookies             = Name{"ike_unknown_cookies"} // main mode for an exchange the KS does not hold
	IKEDHComputed                 = Name{"ike_dh_computed"}     // Diffie-Hellman computations (the expensive step)
	IKEDHQueueFull                = Name{"ike_dh_queue_full"}
	IKEDHRateLimited              = Name{"ike_dh_rate_limited"}
	IKEHalfOpenExpired            = Name{"ike_half_open_expired"}
	IKEHalfOpenReplaced           = Name{"ike_half_open_replaced"}
	IKEHalfOpenPerSourceLimit     = Name{"ike_half_open_per_source_limit"}
	IKEHalfOpenGlobalLimit        = Name{"ike_half_open_global_limit"}
	IKECookieChallenge            = Name{"ike_cookie_challenge"} // message 1s answered with a stateless cookie
	IKECookieVerified             = Name{"ike_cookie_verified"}
	IKECookieSACacheMiss          = Name{"ike_cookie_sa_cache_miss"}
	IKECookieSAEvicted            = Name{"ike_cookie_sa_evicted"}
	IKECookieSATooLarge           = Name{"ike_cookie_sa_too_large"}
	InformationalUnknownSA        = Name{"informational_unknown_sa"}
	// Dead peer detection (RFC 3706).
	DPDSent                  = Name{"dpd_sent"}            // R-U-THEREs sent
	DPDAcked                 = Name{"dpd_acked"}           // R-U-THERE-ACKs of ours taken
	DPDAnswered              = Name{"dpd_answered"}        // peers' R-U-THEREs answered
	DPDUnexpected            = Name{"dpd_unexpected"}      // DPD notifications for another SA, or answers nobody asked for
	DPDPeerDead              = Name{"dpd_peer_dead"}       // peers that answered none of five R-U-THEREs
	InvalidCookieSent        = Name{"invalid_cookie_sent"} // INVALID-COOKIE answers to messages on unknown SAs
	InvalidCookieRateLimited = Name{"invalid_cookie_rate_limited"}
	InvalidCookieTooLarge    = Name{"invalid_cookie_too_large"}
	InvalidCookieReceived    = Name{"invalid_cookie_received"} // on a GM
	InvalidCookieIgnored     = Name{"invalid_cookie_ignored"}  // a GM's INVALID-COOKIE it could not tie to an attempt
)

// Registration (GROUPKEY-PULL).
var (
	Registrations            = Name{"registrations"}
	RegistrationsRejected    = Name{"registrations_rejected"} // refused by a KS (unknown group, unauthorized, ...)
	RegistrationFailures     = Name{"registration_failures"}  // a GM's failed attempts
	Retransmits              = Name{"retransmits"}            // a GM's retransmitted messages
	PullUnknownSA            = Name{"pull_unknown_sa"}
	KSHashFail               = Name{"ks_hash_fail"}
	ReregistrationClamped    = Name{"reregistration_clamped"} // lifetimes too short for the seeds' point
	ReregistrationsCancelled = Name{"reregistrations_cancelled"}
)

// Rekeys (GROUPKEY-PUSH) and their acknowledgements (RFC 8263).
var (
	RekeysSent          = Name{"rekeys_sent"}
	RekeyRetransmits    = Name{"rekey_retransmits"}
	RekeyFailures       = Name{"rekey_failures"}
	RekeysReceived      = Name{"rekeys_received"}
	RekeyReplayed       = Name{"rekey_replayed"}
	RekeyBadSignature   = Name{"rekey_bad_signature"}
	RekeyMalformed      = Name{"rekey_malformed"}
	RekeyInstallFailed  = Name{"rekey_install_failed"}
	RekeyUnknownKEK     = Name{"rekey_unknown_kek"}
	RekeyAcksSent       = Name{"rekey_acks_sent"}
	RekeyAckFailures    = Name{"rekey_ack_failures"}
	RekeyAckUnsupported = Name{"rekey_ack_unsupported"}
	RekeyAcksReceived   = Name{"rekey_acks_received"}
	RekeyAcksMissed     = Name{"rekey_acks_missed"}
	AckUnknownKEK       = Name{"ack_unknown_kek"}
	AckInvalid          = Name{"ack_invalid"}
	AckBadHash          = Name{"ack_bad_hash"}
	AckUnrequested      = Name{"ack_unrequested"}
	AckUnsolicited      = Name{"ack_unsolicited"}
	AcksDuplicate       = Name{"acks_duplicate"}
	AcksLate            = Name{"acks_late"}
	GMDeleted           = Name{"gm_deleted"} // GMs the KS deleted for missing acknowledgements
)

// All is every counter, for tests and documentation.
func All() []Name {
	return []Name{
		PacketsReceived, MulticastPacketsReceived, ReceiveErrors, SendErrors, MalformedPackets, UnexpectedPackets,
		UnsupportedExchange, InternalError, MulticastJoinFailures,
		IKESAEstablished, IKESAExpired, IKESAReplaced, IKESAGlobalLimit, IKESAStale, IKEFailed, IKENoPSK,
		IKEFailedNoProposalChosen, IKEFailedAuthenticationFailed, IKEFailedPayloadMalformed, IKEFailedInvalidID,
		IKEFailedInvalidHash,
		IKEUnauthorizedIdentity, IKEUnknownCookies, IKEDHComputed, IKEDHQueueFull, IKEDHRateLimited,
		IKEHalfOpenExpired, IKEHalfOpenReplaced, IKEHalfOpenPerSourceLimit, IKEHalfOpenGlobalLimit,
		IKECookieChallenge, IKECookieVerified, IKECookieSACacheMiss, IKECookieSAEvicted, IKECookieSATooLarge,
		InformationalUnknownSA, DPDSent, DPDAcked, DPDAnswered, DPDUnexpected, DPDPeerDead, InvalidCookieSent, InvalidCookieRateLimited, InvalidCookieTooLarge,
		InvalidCookieReceived, InvalidCookieIgnored,
		Registrations, RegistrationsRejected, RegistrationFailures, Retransmits, PullUnknownSA, KSHashFail,
		ReregistrationClamped, ReregistrationsCancelled,
		RekeysSent, RekeyRetransmits, RekeyFailures, RekeysReceived, RekeyReplayed, RekeyBadSignature,
		RekeyMalformed, RekeyInstallFailed, RekeyUnknownKEK, RekeyAcksSent, RekeyAckFailures, RekeyAckUnsupported,
		RekeyAcksReceived, RekeyAcksMissed, AckUnknownKEK, AckInvalid, AckBadHash, AckUnrequested, AckUnsolicited,
		AcksDuplicate, AcksLate, GMDeleted,
	}
}
