package events

// pending are the catalogue's events no code emits yet, each with the
// feature it waits for. The catalogue lists every event the seeds name so
// that suites and log readers agree on names and texts; an entry here says
// it is not implemented rather than letting a name stand for a behaviour.
// TestEveryEventIsEmittedOrPending keeps the list true both ways.
var pending = map[string]string{
	// Cooperative key servers: what issue 17 left out.
	"COOP_KS_REMOVE":                  "a reload that changes COOP peers: a reload refuses COOP changes (restart)",
	"COOP_KS_VALID_ANN_TIMER_EXPIRED": pseudotime,
	"GDOI_ANN_TIMESTAMP_LARGE":        pseudotime,
	"GDOI_ANN_TIMESTAMP_TOO_OLD":      pseudotime,
	"KS_BLACKHOLE_ACK":                coop,
	// Left by issue 18 (its closing note says why).
	"GM_RECOVERY_REGISTER":   "GM recovery from data-plane errors (GM-81): not built yet",
	"GM_UNREGISTER":          "leaving a group at run time: a reload on a GM is not built (restart)",
	"GM_REKEY_NOT_RECD":      "a GM's wait for an expected rekey: it re-registers by its timers instead (GM-31, GM-85)",
	"GM_CM_ATTACH":           crypto,
	"GM_CM_DETACH":           crypto,
	"GM_ENABLE_GDOI_CM":      crypto,
	"GM_ACL_MERGE":           "a GM's local ACL merged at run time: it is read at start",
	"GM_ACL_PERMIT":          "a permit in a GM's local ACL: config validation refuses it before the daemon runs",
	"KS_GM_REVOKED":          "per-GM revocation by certificate (KS-64): getvpnd authenticates by pre-shared key",
	"KS_REKEY_TRANS_2_UNI":   "a rekey transport changed at run time: a reload refuses it (restart)",
	"KS_REKEY_TRANS_2_MULTI": "a rekey transport changed at run time: a reload refuses it (restart)",
	"KS_GROUP_DELETE":        "a group removed at run time: a reload refuses it (restart)",
	"KS_LAST_GM":             "a KS tracking its last GM leaving: GMs do not leave, they expire",
	"UNREGISTERED_INTERFACE": crypto,
	// Time-based anti-replay (seed-features DP-20…DP-23, RK-91): no issue
	// yet; getvpnd's SAs have no anti-replay.
	"PSEUDO_TIME_TOO_OLD":     tbar,
	"PSEUDO_TIME_LARGE":       tbar,
	"TIMEBASED_REPLAY_FAILED": tbar,
	"PKT_REPLAY_ERR":          tbar,
	"REPLAY_FAILED":           tbar,
	// Not filed yet.
	"GM_NO_CRYPTO_ENGINE":             "a model of crypto-engine resources: getvpnd's data plane has no such limit",
	"GM_REKEY_IPV4_POLICY_CHECK_FAIL": "IPv6 groups: getvpnd's policies are IPv4 only",
	"GM_REKEY_IPV6_POLICY_CHECK_FAIL": "IPv6 groups: getvpnd's policies are IPv4 only",
	"UNEXPECTED_SIGKEY":               "a KS signing-key change during a group's life (RK-92): keys are made once per start",
	"IKMP_MODE_FAILURE":               "a KS signing-key change during a group's life (RK-92): GMs see it as a failed rekey",
	"UNSUPPORTED_TEK_PROTO":           "a TEK protocol other than ESP on the wire: the SAT parser refuses it as malformed instead",
	"GDOI_ACL_NUM":                    "the 100-entry ACL limit (KS-11): the config accepts longer ACLs",
	"KS_UNAUTHORIZED":                 "getvpnd names an unauthorized registration UNAUTHORIZED_IPADDR or UNAUTHORIZED_IDENTITY",
	"KS_GM_REJECTS_SA_PAYLOAD":        "a GM telling its KS it rejected the policy: GDOI has no message for it, gdoid's KS guesses it",
}

const (
	coop = "cooperative key servers (issue 17)"
	// pseudotime: ANNs carry the sender's pseudotime; checking it waits
	// for time-based anti-replay, which gives it a meaning and a skew.
	pseudotime = "the ANN pseudotime check (CO-61): ANNs carry it, nothing checks it until time-based anti-replay exists"
	crypto     = "crypto maps attached to interfaces: getvpnd's data plane is the GM's forwarding path, with no per-interface crypto map"
	tbar       = "time-based anti-replay (DP-20…DP-23): not built yet"
)

// Pending is why the catalogue's event name is not emitted yet ("" when
// it is).
func Pending(name string) string { return pending[name] }
