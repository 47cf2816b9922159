package events

// pending are the catalogue's events no code emits yet, each with the
// feature it waits for. The catalogue lists every event the seeds name so
// that suites and log readers agree on names and texts; an entry here says
// it is not implemented rather than letting a name stand for a behaviour.
// TestEveryEventIsEmittedOrPending keeps the list true both ways.
var pending = map[string]string{
	// Cooperative key servers: what issue 17 left out.
	"COOP_KS_REMOVE":                  "a configuration reload that removes a COOP peer (issue 18's reload)",
	"COOP_KS_VALID_ANN_TIMER_EXPIRED": pseudotime,
	"GDOI_ANN_TIMESTAMP_LARGE":        pseudotime,
	"GDOI_ANN_TIMESTAMP_TOO_OLD":      pseudotime,
	"KS_BLACKHOLE_ACK":                coop,
	// Group member modes and key-server operations (issue 18).
	"GM_RECOVERY_REGISTER":   ops,
	"GM_UNREGISTER":          ops,
	"GM_REKEY_NOT_RECD":      ops,
	"GM_CM_ATTACH":           ops,
	"GM_CM_DETACH":           ops,
	"GM_ENABLE_GDOI_CM":      ops,
	"GM_ACL_MERGE":           ops,
	"GM_ACL_PERMIT":          ops,
	"KS_GM_REVOKED":          ops,
	"KS_REKEY_TRANS_2_UNI":   ops,
	"KS_REKEY_TRANS_2_MULTI": ops,
	"KS_GROUP_DELETE":        ops,
	"KS_LAST_GM":             ops,
	"UNREGISTERED_INTERFACE": ops,
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
	ops        = "group member modes and key-server operations (issue 18)"
	tbar       = "time-based anti-replay (DP-20…DP-23): not built yet"
)

// Pending is why the catalogue's event name is not emitted yet ("" when
// it is).
func Pending(name string) string { return pending[name] }
