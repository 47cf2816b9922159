package events

import (
	"fmt"
	"sort"
	"strings"
)

// Def is one catalogue entry: an event name (a Cisco syslog mnemonic such as
// GM_REGS_COMPL), the facility and severity it is logged with, and the
// message text.
//
// Format holds the message text with placeholders:
//
//	{field}       the value of field; "<field>" when the event has no such field
//	{?field:text} text when field is set (not "", "0" or "false"), else nothing
//
// so that GM_REGS_COMPL logged with ks=192.0.2.1 group=GETVPN gm=192.0.2.11
// reads "Registration to KS 192.0.2.1 complete for group GETVPN using address
// 192.0.2.11", as a Cisco GM prints it.
type Def struct {
	Name     string
	Facility string // "GDOI", "CRYPTO"
	Severity int    // syslog severity 0-7, as Cisco prints it (%GDOI-5-...)
	Format   string
}

// Fields returns the field names Format uses, in order of first use.
func (d Def) Fields() []string {
	var out []string
	seen := map[string]bool{}
	s := d.Format
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		name := s[i+1 : i+j]
		s = s[i+j+1:]
		if strings.HasPrefix(name, "?") {
			name = name[1:]
			if k := strings.IndexByte(name, ':'); k >= 0 {
				name = name[:k]
			}
		}
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
}

// Check reports an event that would not render fully: a name the catalogue
// does not know, or a field its text needs that fields (key, value pairs, as
// Log.Emit takes them) lacks. Log.Emit writes an unknown name as it is
// (UnknownFacility) rather than dropping it; TestEveryEventIsEmittedOrPending
// checks every name the daemon's code uses against the catalogue.
func Check(name string, fields ...string) error {
	d, ok := Lookup(name)
	if !ok {
		return fmt.Errorf("events: %s is not in the catalogue", name)
	}
	have := map[string]bool{}
	for i := 0; i+1 < len(fields); i += 2 {
		have[fields[i]] = true
	}
	var missing []string
	for _, f := range d.required() {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("events: %s needs field(s) %s", name, strings.Join(missing, ", "))
	}
	return nil
}

// required returns the fields Format uses unconditionally.
func (d Def) required() []string {
	var out []string
	for _, f := range d.Fields() {
		if !strings.Contains(d.Format, "{?"+f+":") || strings.Contains(d.Format, "{"+f+"}") {
			out = append(out, f)
		}
	}
	return out
}

// Render fills d.Format with fields (see Def).
func (d Def) Render(fields map[string]string) string {
	return render(d.Format, fields)
}

func render(format string, fields map[string]string) string {
	var b strings.Builder
	s := format
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+1 : i+j]
		s = s[i+j+1:]
		if cond, ok := strings.CutPrefix(name, "?"); ok {
			key, text, _ := strings.Cut(cond, ":")
			if v := fields[key]; v != "" && v != "0" && v != "false" {
				b.WriteString(text)
			}
			continue
		}
		if v, ok := fields[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString("<" + name + ">")
		}
	}
}

// Field names. Events use these names for the same things, so that a suite
// can match on them whatever the event:
//
//	group          group name
//	group_id       group identity (number)
//	ks             a key server's address (the KS registered with, a COOP peer)
//	gm             a group member's address (on a GM: the address it registers from)
//	ip             a source address that is not (yet) known to be a KS or GM
//	               (a registrant the KS rejects, the source of a replayed packet)
//	peer           an IKE peer's address
//	identity       an IKE identity as Cisco prints it ("Dist. name: ou=GETVPN",
//	               "10.1.1.9", "gm1.example")
//	if             an interface name ("eth1")
//	reason         why something failed, free text
//	seq, last_seq  rekey sequence numbers (SEQ payload)
//	spi            an SA's SPI as shown by /v1/gdoi ("0x2d45c4e9"; KEK: hex)
//	conn_id        ESP SA id in PKT_REPLAY_ERR (getvpnd: the SPI)
//	previous       previous primary KS address, or "NONE"
//	dst            a multicast rekey destination address; a packet's destination
//	suppressed     events of this name not logged since the last one (rate limit)
//	worker         a packet-handling worker ("gdoi", "rekey-multicast", "dataplane-wan")
//	packet         a packet's first octets, in hex
//	stack          a goroutine stack (INTERNAL_ERROR)
//	delay          seconds (integer)
//	my_pst, peer_pst, skew, window
//	               pseudotimes and allowances, seconds
//	version, peer_version
//	               software versions
//	notify         an ISAKMP notify message type ("INVALID-ID-INFORMATION"),
//	               received or (on a rejection) sent
//	proto          a protocol name ("isakmp", "gdoi", "esp")
//	size           a packet size in bytes
//	policy_replace "true" when a rekey replaces the policy (KS_SEND_*_REKEY)
//	local          a local address (COOP_KS_UNAUTH)
//	acl, ace, limit
//	               an ACL's name, one of its entries, an entry limit (or any
//	               configured limit)
//	scope          what a limit applies to ("source", "peer", "KS")
//
// Events may carry more fields than their text uses (SA_TEK_UPDATED carries
// every new SPI, for instance); the comment on each entry lists them.

// catalogue is every event getvpnd logs. Entries not marked otherwise carry
// the seeds' facility, severity and text (spec/seed-features.md, section 7.1
// and the feature sections quoting the log lines). "ours" marks a text, and
// "sev ours" a facility or severity, that the seeds do not give: those follow
// Cisco's style (and its system message guide where we know it) but are our
// choice. "+ f" lists fields an event carries beyond those its text uses.
var catalogue = []Def{
	// Registration, GM side.
	{"GM_REGSTER", "CRYPTO", 5, "Start registration to KS {ks} for group {group} using address {gm}"},
	{"GM_REGSTER_IF_DOWN", "CRYPTO", 4, "Can't start GDOI registration as interface {if} is down"}, // + group
	{"GM_CONN_NEXT_SER", "CRYPTO", 5, "GM is connecting to next key server from the list"},         // + group, ks (the next KS)
	{"GM_REGS_COMPL", "GDOI", 5, "Registration to KS {ks} complete for group {group} using address {gm}"},
	{"GM_INSTALL_POLICIES_SUCCESS", "GDOI", 5, "SUCCESS: Installation of Reg/Rekey policies from KS {ks} for group {group} & gm identity {gm}"},
	{"GM_RE_REGISTER", "GDOI", 4, "The IPSec SA created for group {group} may have expired/been cleared, or didn't go through. Re-register to KS."}, // + reason
	{"GM_RECOVERY_REGISTER", "GDOI", 5, "received invalid GDOI packets; register to KS to refresh policy, keys, and PST."},                          // + group
	{"GM_INCOMPLETE_CFG", "GDOI", 3, "Registration cannot be completed for group {group} due to incomplete configuration"},                          // ours, sev ours; + reason
	{"GM_HASH_FAIL", "GDOI", 1, "Registration: bad or missing hash in message sent by the KS {ks} in the group {group}"},                            // ours, sev ours
	{"GM_REJECTING_SA_PAYLOAD", "GDOI", 4, "Registration: policy in SA payload sent by KS {ks} rejected by GM in the group {group}: {reason}"},      // ours, sev ours
	{"GM_NO_CRYPTO_ENGINE", "GDOI", 3, "No crypto engine found for group {group}: {reason}"},                                                        // ours
	{"GM_CLEAR_REGISTER", "GDOI", 5, "Clear of registration run for group {group}; re-registering"},                                                 // ours, sev ours
	{"GM_UNREGISTER", "GDOI", 5, "GM left group {group}"},                                                                                           // ours, sev ours
	{"GM_CM_ATTACH", "GDOI", 5, "Crypto map attached for GM in group {group}"},                                                                      // ours, sev ours; + if
	{"GM_CM_DETACH", "GDOI", 5, "Crypto map detached for GM in group {group}"},                                                                      // ours, sev ours; + if
	{"GM_ENABLE_GDOI_CM", "GDOI", 5, "GM has enabled ACL on GDOI crypto map in group {group} with KS {ks}"},                                         // ours, sev ours
	{"REG_FAILED", "GDOI", 4, "Registration to KS {ks} for group {group} failed: {reason}"},                                                         // ours (no seed name); + gm

	// Rekey, GM side.
	{"GM_RECV_REKEY", "GDOI", 5, "Received Rekey for group {group} from {ks} to {gm} with seq # {seq}"},
	{"GM_ACK_UNSUPPORTED", "GDOI", 4, "KS {ks} asks group {group} for rekey ACK type {type}, which this GM does not support: rekeys are not acknowledged"}, // ours (RFC 8263 LKH and private types), sev ours
	{"GM_REKEY_TRANS_2_UNI", "GDOI", 5, "Group {group} transitioned to Unicast Rekey."},
	{"GM_REKEY_TRANS_2_MULTI", "GDOI", 5, "Group {group} transitioned to Multicast Rekey."}, // ours (after _2_UNI)
	{"GM_RECV_DELETE", "GDOI", 4, "GM received delete-msg from KS in group {group}. TEKs lifetime are reduced and re-registration will start before SA expiry"},
	{"GM_RECV_DELETE_IMMEDIATE", "GDOI", 4, "GM receive REMOVAL-NOW in group {group} to cleanup downloaded policy now. Re-registration will start in a randomly chosen period of {delay} sec"},
	{"GM_DELETE_EXPIRED_KEK", "GDOI", 5, "KEK expired for group {group} and was deleted"},                                                      // + spi
	{"GM_REKEY_NOT_RECD", "GDOI", 4, "GM did not receive a rekey from KS {ks} in group {group}"},                                               // ours, sev ours
	{"GM_REKEY_IPV4_POLICY_CHECK_FAIL", "GDOI", 3, "Rekey: IPv4 group {group} received an IPv6 policy from KS {ks}; rejected"},                 // ours, sev ours
	{"GM_REKEY_IPV6_POLICY_CHECK_FAIL", "GDOI", 3, "Rekey: IPv6 group {group} received an IPv4 policy from KS {ks}; rejected"},                 // ours, sev ours
	{"GM_SA_INGRESS", "GDOI", 5, "Receive-only ACL received from KS {ks} in group {group}"},                                                    // ours, sev ours
	{"GM_CONV_SA_DUPLEX", "GDOI", 5, "IPSec SAs converted to Duplex in group {group} on the GM"},                                               // ours, sev ours
	{"GM_CONV_SA_DUPLEX_LOCAL", "GDOI", 5, "IPSec SAs converted to Duplex in group {group} on the GM by a local command"},                      // ours, sev ours
	{"GM_ACL_MERGE", "GDOI", 5, "ACL between KS and GM in group {group} merged"},                                                               // ours, sev ours
	{"GM_ACL_PERMIT", "GDOI", 4, "GM can support only ACL for deny in group {group}; traffic matching the permit entry {ace} will be dropped"}, // ours, sev ours; ace = the local entry
	{"SA_KEK_UPDATED", "GDOI", 5, "SA KEK was updated for group {group} (spi {spi})"},                                                          // "SA KEK was updated" + ours
	{"SA_TEK_UPDATED", "GDOI", 5, "SA TEK was updated for group {group} (spi {spi})"},                                                          // "SA TEK was updated" + ours; spi: the new SPIs, space-separated
	{"GDOI_REKEY_SEQ_FAILURE", "GDOI", 3, "Failed to process rekey seq # {seq} in seq payload for group {group}, last seq # {last_seq}"},
	{"GDOI_REKEY_FAILURE", "GDOI", 3, "Processing of REKEY payloads failed on GM in the group {group}, with peer at {ks}: {reason}"}, // ours, sev ours
	{"GM_REKEY_FAIL", "GDOI", 3, "GM Rekey Failure: group {group} cannot process and install a rekey from {ks}: {reason}"},           // the seeds' MIB notification "GM Rekey Failure" (S0 L12514) as an event; sev ours
	{"PSEUDO_TIME_TOO_OLD", "GDOI", 3, "Rekey received in group {group} is too old and failed PST check: my_pst is {my_pst} sec, peer_pst is {peer_pst} sec, allowable_skew is {skew} sec"},
	{"PSEUDO_TIME_LARGE", "GDOI", 3, "Rekey received in group {group} has too large a pseudotime and failed PST check: my_pst is {my_pst} sec, peer_pst is {peer_pst} sec, allowable_skew is {skew} sec"}, // ours (after _TOO_OLD)

	// Anti-replay (data plane).
	{"TIMEBASED_REPLAY_FAILED", "GDOI", 4, "An anti replay check has failed in group {group} from sourceip-address {ip}. my_pseudotime is {my_pst} secs,peer_pseudotime is {peer_pst} secs, replay_window is {window}(second)"},
	{"PKT_REPLAY_ERR", "CRYPTO", 4, "decrypt: replay check failed connection id={conn_id}, sequence number={seq}"}, // + group, ip
	{"REPLAY_FAILED", "GDOI", 4, "An anti replay check has failed in group {group} from {ip}: {reason}"},           // ours, sev ours

	// Data plane (GM). The texts are Cisco's IOS system messages.
	{"RECVD_PKT_INV_SPI", "CRYPTO", 4, "decaps: rec'd IPSEC packet has invalid spi for destaddr={dst}, prot=50, spi={spi}, srcaddr={ip}"}, // ours (not in the seeds); + suppressed
	{"RECVD_PKT_NOT_IPSEC", "CRYPTO", 4, "Rec'd packet not an IPSEC packet. (ip) dest_addr= {dst}, src_addr= {ip}, prot= {proto}"},        // ours (not in the seeds); + group, suppressed
	{"RECVD_PKT_MAC_ERR", "CRYPTO", 4, "decrypt: mac verification failed for connection id={conn_id}"},                                    // ours (not in the seeds); + ip, group, suppressed
	{"RECVD_PKT_INV_IDENT", "CRYPTO", 4, "decrypt: packet has invalid identity, dest_addr= {dst}, src_addr= {ip}, prot= {proto}"},         // ours (not in the seeds); + spi, group, suppressed
	{"RECVD_PKT_TOO_SHORT", "CRYPTO", 4, "decaps: rec'd IPSEC packet too short for connection id={conn_id}: {size} bytes, srcaddr={ip}"},  // ours (not in the seeds); + dst, group, reason, suppressed

	// Key server.
	{"KS_REGS_COMPL", "GDOI", 5, "KS completed successful registration in group {group} with GM {gm}"},                                               // ours, sev ours; + identity
	{"KS_FIRST_GM", "GDOI", 6, "KS {ks} received its first GM {gm} in group {group}"},                                                                // ours; sev 6 (LOG_INFO) from the seeds
	{"KS_LAST_GM", "GDOI", 6, "Last GM {gm} left group {group} on KS {ks}"},                                                                          // ours, sev ours
	{"KS_GROUP_ADD", "GDOI", 5, "Config: KS added to the group {group}"},                                                                             // ours, sev ours; + ks, group_id
	{"KS_GROUP_DELETE", "GDOI", 5, "Config: KS removed from the group {group}"},                                                                      // ours, sev ours; + ks, group_id
	{"KS_BAD_ID", "GDOI", 1, "Registration: config mismatch between KS and the GM {ip}, in the group {group}: {reason}"},                             // ours, sev ours; + peer, notify
	{"KS_HASH_FAIL", "GDOI", 1, "Registration: bad or missing hash in message sent by the GM {peer}"},                                                // ours, sev ours; + group, reason
	{"KS_UNAUTHORIZED", "GDOI", 1, "Registration: unauthorized GM {ip} tried to join the group {group}: {reason}"},                                   // ours, sev ours; + identity, peer, notify
	{"KS_GM_REVOKED", "GDOI", 1, "Rekey: unauthorized GM {gm} tried to join the group {group}"},                                                      // ours, sev ours
	{"KS_NO_RSA_KEYS", "GDOI", 1, "RSA keys not found, required for group {group}: {reason}"},                                                        // ours, sev ours; + key (name or file), ip, peer, notify
	{"KS_GM_REJECTS_SA_PAYLOAD", "GDOI", 1, "Registration: GM {ip} rejected a policy in the SA proposal sent by KS, in the group {group}: {reason}"}, // ours, sev ours
	{"KS_SEND_UNICAST_REKEY", "GDOI", 5, "Sending Unicast Rekey{?policy_replace: with policy-replace} for group {group} from address {ks} with seq # {seq}"},
	{"KS_SEND_MCAST_REKEY", "GDOI", 5, "Sending Multicast Rekey{?policy_replace: with policy-replace} for group {group} from address {ks} to {dst} with seq # {seq}"}, // ours (after UNICAST)
	{"KS_REKEY_TRANS_2_UNI", "GDOI", 5, "Group {group} transitioned to Unicast Rekey."},                                                                               // ours (after GM_REKEY_TRANS_2_UNI)
	{"KS_REKEY_TRANS_2_MULTI", "GDOI", 5, "Group {group} transitioned to Multicast Rekey."},                                                                           // ours
	{"KS_NACK_GM_EJECT", "GDOI", 4, "KS has not received an ACK from GM {gm} in group {group} and has ejected it"},                                                    // ours, sev ours
	{"KS_UNSOL_ACK", "GDOI", 4, "KS received unsolicited ACK from {ip} in group {group}"},                                                                             // ours, sev ours; + seq, reason (not requested, not a GM)
	{"KS_ACK_HASH_FAIL", "GDOI", 4, "KS dropped a rekey ACK from {ip} in group {group}: bad hash"},                                                                    // ours (RFC 8263: log failing acks), sev ours; + peer, seq, reason
	{"KS_BLACKHOLE_ACK", "GDOI", 4, "KS is blackholing GM {gm} in group {group}"},                                                                                     // ours, sev ours
	{"KS_CLEAR_REGISTER", "GDOI", 5, "Clear of registrations run for group {group} on the KS"},                                                                        // ours, sev ours
	{"KS_CONV_SAS_DUPLEX", "GDOI", 5, "IPSec SAs converted to Duplex in group {group}"},                                                                               // ours, sev ours
	{"KS_CONV_SAS_INGRESS", "GDOI", 5, "IPSec SAs converted to Ingress in group {group}"},                                                                             // ours, sev ours
	{"GM_DELETE", "GDOI", 4, "GM {gm} deleted from group {group}."},
	{"KS_SEND_GM_REMOVAL", "GDOI", 5, "Sending GM-Removal{?now: immediate} message to group {group}"},                                                                                   // the seeds' "Sending GM-Removal message to group GET..." (RK-60); + gms
	{"KS_FEATURE_UNSUPPORTED", "GDOI", 4, "WARNING for group {group}: some devices cannot support {feature} and can cause network disruption. Please check 'show crypto gdoi feature'"}, // the seeds' warning (RK-62, RK-51); + devices
	{"POLICY_CHANGE", "GDOI", 5, "GDOI group {group} policy has changed. Use 'crypto gdoi ks rekey' to send a rekey, or the changes will be send in the next scheduled rekey"},
	{"GDOI_ACL_NUM", "GDOI", 4, "The ACL {acl} for group {group} has too many entries. GDOI will honor only the first {limit} ACL entries specified"}, // ours, sev ours

	// Authorization.
	{"UNAUTHORIZED_IPADDR", "GDOI", 1, "Group {group} received registration from unauthorized ip address: {ip}"},        // + reason, peer, notify
	{"UNAUTHORIZED_IDENTITY", "GDOI", 1, "Group {group} received registration from unauthorized identity: {identity}"},  // + ip, peer, reason; refused in phase 1 (the identity is not the pre-shared key's), group names every group of the KS
	{"KS_GM_VERSION_MISMATCH", "GDOI", 3, "Registration of GM {ip} in group {group} refused: {reason}"},                 // ours (PV-01: "GM registration does not succeed"; no seed name)
	{"UNREGISTERED_INTERFACE", "GDOI", 3, "Received registration from unregistered interface {if}; stop processing it"}, // ours, sev ours
	{"UNEXPECTED_SIGKEY", "GDOI", 3, "Unexpected signature key found in group {group}"},                                 // ours, sev ours
	{"UNSUPPORTED_TEK_PROTO", "GDOI", 3, "Unexpected TEK protocol {proto} in group {group}"},                            // ours, sev ours

	// Cooperative key servers.
	{"COOP_KS_ELECTION", "GDOI", 5, "KS entering election mode in group {group} (Previous Primary = {previous})"},
	{"COOP_KS_TRANS_TO_PRI", "GDOI", 5, "KS {ks} in group {group} transitioned to Primary (Previous Primary = {previous})"},
	{"COOP_KS_REACH", "GDOI", 5, "Reachability restored with Cooperative KS {ks} in group {group}."},
	{"COOP_KS_UNREACH", "GDOI", 3, "Cooperative KS {ks} Unreachable in group {group}"},
	{"COOP_KS_ADD", "GDOI", 5, "{ks} added as COOP Key Server in group {group}."},                                                                                                                         // ours, sev ours
	{"COOP_KS_REMOVE", "GDOI", 5, "{ks} removed as COOP Key Server in group {group}."},                                                                                                                    // ours, sev ours
	{"COOP_KS_UNAUTH", "GDOI", 1, "Contact from unauthorized KS {ks} in group {group} at local address {local}"},                                                                                          // ours, sev ours
	{"COOP_KS_VER_MISMATCH", "GDOI", 4, "Coop KS {ks} in group {group} runs version {peer_version}, local version {version}; election will not succeed"},                                                  // ours, sev ours
	{"COOP_CONFIG_MISMATCH", "GDOI", 3, "WARNING: configuration mismatch between Primary KS and secondary KS {ks} in group {group}: {reason}"},                                                            // ours, sev ours
	{"COOP_PACKET_DROPPED", "GDOI", 3, "Announcement message to {ks} in group {group} dropped due to packet size {size} bytes"},                                                                           // ours, sev ours
	{"COOP_KS_BLOCK_NEW_GM_REGISTER", "GDOI", 5, "KS {ks} in group {group} is blocking new GM registration: no valid pseudotime from the primary KS"},                                                     // ours
	{"COOP_KS_VALID_ANN_TIMER_EXPIRED", "GDOI", 5, "No valid ANN received from the primary KS {ks} in group {group} after retransmits; new GM registration blocked until a valid ANN"},                    // ours
	{"GDOI_ANN_TIMESTAMP_LARGE", "GDOI", 4, "COOP ANN from KS {ks} in group {group} has too large a pseudotime: my_pst is {my_pst} sec, peer_pst is {peer_pst} sec, allowable_skew is {skew} sec"},        // ours
	{"GDOI_ANN_TIMESTAMP_TOO_OLD", "GDOI", 4, "COOP ANN from KS {ks} in group {group} is too old and failed PST check: my_pst is {my_pst} sec, peer_pst is {peer_pst} sec, allowable_skew is {skew} sec"}, // ours

	// IKE and the wire.
	{"IKMP_MODE_FAILURE", "CRYPTO", 6, "Processing of GDOI mode failed with peer at {peer}"},                          // + group, reason
	{"IKE_AUTH_FAILED", "CRYPTO", 4, "IKE phase 1 with peer {peer} failed: {reason}"},                                 // ours (no seed name)
	{"IKE_NOTIFY_RECV", "CRYPTO", 5, "Received IKE notify {notify} from peer {peer}"},                                 // ours (no seed name)
	{"IKE_PEER_DEAD", "CRYPTO", 4, "Peer {peer} answered none of {unanswered} R-U-THEREs: its phase-1 SA is deleted"}, // ours (no seed name); + interval, retry
	{"IKE_SA_STALE", "CRYPTO", 5, "Phase-1 SA with {peer} dropped for group {group}: {reason}; starting main mode"},   // ours (no seed name)
	{"MALFORMED_PACKET", "CRYPTO", 4, "Dropped malformed packet from {peer}: {reason}"},                               // ours (no seed name); + proto, size
	// Flood defences of the KS (limits section of its configuration); all ours.
	{"IKE_NO_PRESHARED_KEY", "CRYPTO", 4, "No pre-shared key for peer {peer}: main mode refused"},                                                                                     // IOS debug "No pre-shared key with <peer>!"; + notify, reason
	{"IKE_HALF_OPEN_LIMIT", "CRYPTO", 4, "Half-open IKE limit of {limit} per {scope} reached: main mode from {peer} dropped"},                                                         // scope: source or KS
	{"IKE_COOKIE_CHALLENGE", "CRYPTO", 5, "{limit} half-open IKE exchanges per {scope}: main mode message 1 is answered with stateless responder cookies, state waits for message 3"}, // on reaching the limit; scope: source (+ peer) or KS
	{"IKE_DH_RATE_LIMIT", "CRYPTO", 4, "Diffie-Hellman limit reached for peer {peer}: main mode message 3 dropped ({reason})"},                                                        // + limit
	{"IKE_SA_LIMIT", "CRYPTO", 5, "IKE SA limit of {limit} per {scope} reached: the oldest SA with {peer} is replaced"},                                                               // scope: peer or KS

	// Robustness.
	{"INTERNAL_ERROR", "GDOI", 3, "Internal error in {worker} handling a {size}-byte packet from {peer}: {reason}; packet dropped"}, // ours; + packet (hex, first 256 octets), stack
}

// aliases are other spellings of catalogue names: Lookup of an alias returns
// the entry of the name it stands for (whose Name the event is logged under).
var aliases = map[string]string{
	// The seeds' table spells it KS_SEND_MCAST_REKEY, their §5.4.3.2
	// KS_SEND_MULTICAST_REKEY (spec C-19): emit one, accept both.
	"KS_SEND_MULTICAST_REKEY": "KS_SEND_MCAST_REKEY",
}

var byName = func() map[string]Def {
	m := make(map[string]Def, len(catalogue))
	for _, d := range catalogue {
		if _, dup := m[d.Name]; dup {
			panic("events: duplicate catalogue entry " + d.Name)
		}
		m[d.Name] = d
	}
	return m
}()

// Lookup returns the catalogue entry for an event name (or an alias of one).
func Lookup(name string) (Def, bool) {
	if a, ok := aliases[name]; ok {
		name = a
	}
	d, ok := byName[name]
	return d, ok
}

// All returns every catalogue entry, sorted by name.
func All() []Def {
	out := append([]Def(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
