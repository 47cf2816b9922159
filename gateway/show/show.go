// Package show holds the roles' snapshots: plain values a key server, a
// group member, their data plane and event log return when asked what
// they hold ("show crypto gdoi", the member database, phase-1 SAs, the
// events). They import nothing of the daemon; gateway/control serves them
// as the JSON documents of its API, so the JSON field names are part of
// that API: suites and other vendors' tooling read them, so rename
// nothing. Durations are protocol-time seconds (timers.scale undone),
// times are RFC 3339 wall-clock times.
package show

import "time"

// GDOI is GET /v1/gdoi: the daemon and its groups ("show crypto gdoi").
type GDOI struct {
	Role     string `json:"role"` // "ks" or "gm"
	Identity string `json:"identity"`
	Version  string `json:"version"` // getvpnd version
	// GDOIVersion is the GDOI software version announced (Cisco's "1.0.x").
	GDOIVersion string        `json:"gdoi_version"`
	Scale       float64       `json:"timer_scale"`
	Groups      []GroupStatus `json:"groups"`
	// DataPlane is a GM's data plane; absent on a KS.
	DataPlane *DataPlane `json:"data_plane,omitempty"`
}

// DataPlane is a GM's ESP data plane: where it sits and what it did with
// every packet (counter names: gateway/dataplane CounterName).
type DataPlane struct {
	Enabled bool `json:"enabled"`
	// Error says why the data plane is not running when it should.
	Error string `json:"error,omitempty"`
	// LANDevice and WANDevice are the TUN devices the kernel routes LAN-
	// and WAN-side forwarded traffic into; WANInterface the WAN side.
	LANDevice    string `json:"lan_device,omitempty"`
	WANDevice    string `json:"wan_device,omitempty"`
	WANInterface string `json:"wan_interface,omitempty"`
	WANMTU       int    `json:"wan_mtu"`
	DFBit        string `json:"df_bit"`
	Queues       int    `json:"queues"`
	// LocalDenyInbound is how local deny entries match inbound traffic
	// ("ios", "iosxe", "accept-both").
	LocalDenyInbound string `json:"local_deny_inbound"`
	// DaemonDown is what happens to forwarded traffic while getvpnd is
	// not running: "drop" (blackholes stay) or "pass".
	DaemonDown string `json:"daemon_down,omitempty"`
	// FailClose is "off" (not configured), "inactive" (configured, not
	// activated), "armed" (dropping what FailCloseACL does not deny) or
	// "removed" (every group has registered; S0: "not persistent").
	FailClose    string            `json:"fail_close"`
	FailCloseACL []string          `json:"fail_close_acl,omitempty"`
	Counters     map[string]uint64 `json:"counters"`
}

// SACounters are one TEK's data-plane counters on a GM.
type SACounters struct {
	// Send says whether this GM encrypts on the SA (direction, Sender-ID);
	// NoSendReason why not.
	Send             bool   `json:"send"`
	NoSendReason     string `json:"no_send_reason,omitempty"`
	EncryptedPackets uint64 `json:"encrypted_packets"`
	EncryptedBytes   uint64 `json:"encrypted_bytes"`
	DecryptedPackets uint64 `json:"decrypted_packets"`
	DecryptedBytes   uint64 `json:"decrypted_bytes"`
	AuthFailures     uint64 `json:"auth_failures"`
	PolicyDrops      uint64 `json:"policy_drops"`
}

// GroupStatus is one group.
type GroupStatus struct {
	Name string `json:"name"`
	ID   uint32 `json:"id"`
	// KS is set on a key server, GM on a group member.
	KS  *KSGroup `json:"ks,omitempty"`
	GM  *GMGroup `json:"gm,omitempty"`
	KEK *KEK     `json:"kek,omitempty"`
	// TEKs are the group's traffic keys, newest last.
	TEKs []TEK `json:"teks"`
	// ACL is the downloaded (GM) or configured (KS) traffic policy, one
	// entry per line as "permit ip 198.51.100.0/24 203.0.113.0/24".
	ACL []string `json:"acl"`
	// LocalACL is a GM's local deny ACL, evaluated before ACL.
	LocalACL []string `json:"local_acl,omitempty"`
}

// KSGroup is a key server's view of a group.
type KSGroup struct {
	Members       int    `json:"members"`
	Registrations uint64 `json:"registrations"`
	// RekeysSent counts scheduled rekeys (KEKRekeys of them replaced the
	// KEK), Retransmits their retransmissions, AcksReceived the GMs'
	// acknowledgements and GMsDeleted the GMs removed for missing three.
	RekeysSent     uint64 `json:"rekeys_sent"`
	KEKRekeys      uint64 `json:"kek_rekeys"`
	Retransmits    uint64 `json:"retransmits"`
	Reminders      uint64 `json:"reminders"` // periodic reminders (rekey.retransmit.periodic)
	AcksReceived   uint64 `json:"acks_received"`
	GMsDeleted     uint64 `json:"gms_deleted"`
	RekeyTransport string `json:"rekey_transport"` // "unicast" or "multicast"
	RekeyAddress   string `json:"rekey_address,omitempty"`
	// Seq is the last sequence number sent.
	Seq uint32 `json:"seq"`
	// NextTEKRekeyIn and NextKEKRekeyIn are the protocol seconds until the
	// next scheduled TEK and KEK rekeys.
	NextTEKRekeyIn float64 `json:"next_tek_rekey_in"`
	NextKEKRekeyIn float64 `json:"next_kek_rekey_in"`
	// LastRekey is the last scheduled rekey, absent before the first.
	LastRekey      *RekeyRound `json:"last_rekey,omitempty"`
	SigningKeyBits int         `json:"signing_key_bits"`
	SigningKeyHash string      `json:"signing_key_sha256"` // SHA-256 of the public key (SPKI DER), hex
}

// RekeyRound is one scheduled rekey and its retransmissions.
type RekeyRound struct {
	Kind    string    `json:"kind"` // "tek", "kek" or "kek+tek"
	Seqs    []uint32  `json:"seqs"` // the first transmission's, then each retransmission's
	Started time.Time `json:"started"`
	// GMs is the number of GMs it was sent to (unicast) and Acked how many
	// acknowledged; AllAckedMs the wall milliseconds until the last did.
	GMs        int     `json:"gms"`
	Acked      int     `json:"acked"`
	AllAckedMs float64 `json:"all_acked_ms,omitempty"`
}

// GMGroup is a group member's view of a group.
type GMGroup struct {
	// State is "idle", "registering", "registered" or "failed".
	State string `json:"state"`
	// KeyServer is the KS the GM registered with (or is trying).
	KeyServer string   `json:"key_server,omitempty"`
	KSList    []string `json:"ks_list"`
	// Registrations counts completed registrations; Attempts every
	// registration try (each main mode started).
	Registrations uint64 `json:"registrations"`
	Attempts      uint64 `json:"attempts"`
	// LastRegistered is when the last registration completed.
	LastRegistered *time.Time `json:"last_registered,omitempty"`
	// ReregisterIn is the protocol time until the scheduled
	// re-registration ("Re-register in"), absent when none is scheduled.
	ReregisterIn *float64 `json:"reregister_in,omitempty"`
	// LastError is the reason of the last failed attempt.
	LastError string `json:"last_error,omitempty"`
	// Seq is the last rekey sequence number accepted (SEQ from the KS).
	Seq uint32 `json:"seq"`
	// RekeyTransport is "unicast" or "multicast" (the KEK's destination).
	RekeyTransport string `json:"rekey_transport,omitempty"`
	// RekeysReceived counts GROUPKEY-PUSHes taken, AcksSent their
	// acknowledgements and RekeysRejected the PUSHes refused (bad
	// signature, replayed sequence number, unparsable, uninstallable).
	RekeysReceived uint64 `json:"rekeys_received"`
	AcksSent       uint64 `json:"acks_sent"`
	RekeysRejected uint64 `json:"rekeys_rejected"`
	// LastRekey is when the last PUSH was taken.
	LastRekey *time.Time `json:"last_rekey,omitempty"`
	// ReregisterFor says what the scheduled re-registration is for:
	// "tek" or "kek" (GM-32: whichever comes first).
	ReregisterFor string `json:"reregister_for,omitempty"`
	// PreviousKEK is the SPI of the KEK the last KEK rekey replaced.
	PreviousKEK string `json:"previous_kek,omitempty"`
	// Direction is the group's IPsec SA direction ("IPSec SA Direction"):
	// "both", "inbound-only" or "inbound-optional"; DirectionBy what set
	// it: "ks" (the TEKs' SA_DIRECTION and the migration after it),
	// "passive" (the GM's passive SA mode) or "local" (getctl gm
	// direction, until the next rekey).
	Direction   string `json:"ipsec_sa_direction"`
	DirectionBy string `json:"direction_by"`
}

// KEK is a group's rekey SA.
type KEK struct {
	SPI          string  `json:"spi"`       // 16 octets, hex
	Algorithm    string  `json:"algorithm"` // "aes"
	KeyBits      int     `json:"key_bits"`
	SigHash      string  `json:"sig_hash"`      // "sha256"
	SigAlgorithm string  `json:"sig_algorithm"` // "rsa"
	SigKeyBits   int     `json:"sig_key_bits"`
	Lifetime     float64 `json:"lifetime"`  // seconds, as configured/downloaded
	Remaining    float64 `json:"remaining"` // seconds left
	Seq          uint32  `json:"seq"`
}

// TEK is one traffic SA.
type TEK struct {
	SPI       string  `json:"spi"`       // "0x2d45c4e9"
	Transform string  `json:"transform"` // "aes256gcm16", "aes128-sha1"
	Protocol  uint8   `json:"protocol"`
	Src       string  `json:"src"` // selector prefix
	Dst       string  `json:"dst"`
	SrcPort   uint16  `json:"src_port,omitempty"`
	DstPort   uint16  `json:"dst_port,omitempty"`
	Lifetime  float64 `json:"lifetime"`
	Remaining float64 `json:"remaining"`
	// AddressPreservation is "src-dst", "src", "dst" or "none".
	AddressPreservation string `json:"address_preservation"`
	// Direction is "both", "send" or "receive".
	Direction string `json:"direction"`
	// Counters are the GM data plane's counters for this TEK.
	Counters *SACounters `json:"counters,omitempty"`
}

// Member is one GM in a key server's database (GET /v1/ks/members;
// "show crypto gdoi ks members").
type Member struct {
	Address  string `json:"address"`
	Identity string `json:"identity"`
	Group    string `json:"group"`
	GroupID  uint32 `json:"group_id"`
	// Version is the GDOI version the GM announced in main mode
	// ("unknown" without one), Features the features it listed.
	Version       string    `json:"version"`
	Features      []string  `json:"features,omitempty"`
	KeyServer     string    `json:"key_server"`
	RegisteredAt  time.Time `json:"registered_at"`
	Registrations uint64    `json:"registrations"`
	RekeysSent    uint64    `json:"rekeys_sent"`
	RekeyRetries  uint64    `json:"rekey_retries"`
	AcksReceived  uint64    `json:"rekey_acks_received"`
	AcksMissed    uint64    `json:"rekey_acks_missed"`
	SentSeq       []uint32  `json:"sent_seq"`
	ReceivedSeq   []uint32  `json:"received_seq"`
}

// IKESA is one phase-1 SA (GET /v1/ike/sa; "show crypto isakmp sa").
type IKESA struct {
	Local     string  `json:"local"`
	Peer      string  `json:"peer"`
	Cookies   string  `json:"cookies"` // CKY-I|CKY-R, hex
	Initiator bool    `json:"initiator"`
	State     string  `json:"state"` // "GDOI_IDLE", "MM_NO_STATE", ...
	Suite     string  `json:"suite"` // "aes256-sha256-g14"
	Lifetime  float64 `json:"lifetime"`
	Remaining float64 `json:"remaining"`
	// Keepalive: this side probes the peer with R-U-THEREs; Unanswered
	// counts those in a row that had no answer yet.
	Keepalive  bool `json:"keepalive,omitempty"`
	Unanswered int  `json:"dpd_unanswered,omitempty"`
}

// Event is one logged event (GET /v1/events): the seeds' event names.
type Event struct {
	Seq      uint64            `json:"seq"`
	Time     time.Time         `json:"time"`
	Name     string            `json:"name"`     // "GM_REGS_COMPL"
	Facility string            `json:"facility"` // "GDOI", "CRYPTO"
	Severity int               `json:"severity"` // syslog level 0-7, as Cisco prints it
	Message  string            `json:"message"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// COOP is one group's cooperative key servers as this KS sees them (GET
// /v1/ks/coop, "show crypto gdoi ks coop"): its own role and timers, and
// a session per configured peer.
type COOP struct {
	Group string `json:"group"`
	// LocalAddress, LocalPriority, Role ("primary" or "secondary") and
	// Status ("alive") are the seeds' "Local ..." lines; Version is the
	// GDOI version this KS announces ("1.0.1").
	LocalAddress  string `json:"local_address"`
	LocalPriority int    `json:"local_priority"`
	Role          string `json:"role"`
	Status        string `json:"status"`
	Version       string `json:"version"`
	// Electing is true while the KS runs an election (at start, and after
	// the primary fell silent).
	Electing bool `json:"electing"`
	// Primary is the primary's address as this KS knows it ("" while none
	// is known); Synced says the KS holds the group's keys from it (a
	// secondary that does not refuses registrations, KS-42).
	Primary string `json:"primary,omitempty"`
	Synced  bool   `json:"synced"`
	// Refresh (primary: between announcements), Periodic (secondary: the
	// primary's silence that starts an election) and Retransmit (the
	// election's reply-request rounds) are the configured timers, in
	// protocol seconds; Remaining is the time left on the running one
	// and Retries the reply-request rounds sent in the current election.
	Refresh    float64 `json:"refresh"`
	Periodic   float64 `json:"periodic"`
	Retransmit int     `json:"retransmit"`
	Remaining  float64 `json:"remaining"`
	Retries    int     `json:"retries"`
	// Transitions counts this KS's own moves to primary, Demotions its
	// moves back to secondary (merge); PolicyUpdates the announcements
	// sent by the 5 s policy-update batch.
	Transitions   uint64     `json:"transitions"`
	Demotions     uint64     `json:"demotions"`
	PolicyUpdates uint64     `json:"policy_updates"`
	Peers         []COOPPeer `json:"peers"`
}

// COOPPeer is one peer session of a COOP KS.
type COOPPeer struct {
	Address  string `json:"address"`
	Priority int    `json:"priority"` // as last announced; 0 before
	// Role is "primary" or "secondary" as the peer last announced it;
	// Status "alive", "dead" or "unknown" (a secondary tracks only the
	// primary: the other secondaries are unknown to it, CO-10).
	Role    string `json:"role"`
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	// AntireplaySeq is the peer's latest accepted announcement sequence
	// number; SentSeq this KS's latest to it.
	AntireplaySeq uint64 `json:"antireplay_seq"`
	SentSeq       uint64 `json:"sent_seq"`
	// IKEStatus is "established" while a phase-1 SA with the peer is
	// live, else "failed".
	IKEStatus string `json:"ike_status"`
	// The seeds' per-peer counters.
	AnnSent             uint64  `json:"ann_sent"`
	AnnSentReplyRequest uint64  `json:"ann_sent_reply_request"`
	AnnRecv             uint64  `json:"ann_recv"`
	AnnRecvReplyRequest uint64  `json:"ann_recv_reply_request"`
	PacketSentDrops     uint64  `json:"packet_sent_drops"`
	PacketRecvDrops     uint64  `json:"packet_recv_drops"`
	BytesSent           uint64  `json:"bytes_sent"`
	BytesRecv           uint64  `json:"bytes_recv"`
	LastHeardSecondsAgo float64 `json:"last_heard_seconds_ago,omitempty"`
}

// Features is GET /v1/gdoi/feature ("show crypto gdoi feature"): the
// GDOI version and features of this daemon and, on a KS, of every
// cooperating KS and group member, as each announced them.
type Features struct {
	Local  Device          `json:"local"`
	Groups []GroupFeatures `json:"groups"`
}

// GroupFeatures is one group's devices: its key servers (this one and its
// COOP peers) and, on a KS, its members.
type GroupFeatures struct {
	Group      string   `json:"group"`
	KeyServers []Device `json:"key_servers"`
	Members    []Device `json:"members"`
}

// Device is one KS or GM: its address, GDOI version ("unknown" when it
// announced none) and the features it listed (nil when it listed none:
// its version tells).
type Device struct {
	Address  string   `json:"address"`
	Version  string   `json:"version"`
	Features []string `json:"features"`
}

// RemovalResult names the groups whose GMs were removed, and the warnings
// the KS gave (devices that cannot support GM removal, RK-62).
type RemovalResult struct {
	Removed  []string `json:"removed"`
	Warnings []string `json:"warnings,omitempty"`
}

// ReloadResult says what a reload changed: each change applied, and the
// groups whose policy changed (POLICY_CHANGE: it goes out with the next
// rekey).
type ReloadResult struct {
	Changed       []string `json:"changed"`
	PolicyChanged []string `json:"policy_changed,omitempty"`
}
