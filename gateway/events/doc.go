// Package events is getvpnd's event catalogue and event log.
//
// The catalogue (catalogue.go) names every event the daemon logs with the
// Cisco syslog mnemonic the seed documents give it (GM_REGS_COMPL,
// KS_SEND_UNICAST_REKEY, COOP_KS_TRANS_TO_PRI, ...), with Cisco's facility,
// severity and message text, so an operator and a suite recognise
// "%GDOI-5-GM_REGS_COMPL: Registration to KS 192.0.2.1 complete for group
// GETVPN using address 192.0.2.11".
//
// A Log (log.go) writes each event as one line, JSON or text, and keeps the
// last events in a ring that the control socket serves (GET /v1/events):
//
//	ev := events.New(os.Stderr, "json", "info")
//	ev.Emit("GM_REGS_COMPL", "ks", "192.0.2.1", "group", "GETVPN", "gm", "192.0.2.11")
//
// Events carry their fields both in the message and as structured fields, so
// suites match on the name and fields, never on the text.
//
// Each event name is rate-limited (SetRateLimit; 10 a second with a burst of
// 20 by default) in the log and the ring alike, so that a flood of bad
// packets neither fills the disk nor pushes other events out of the ring;
// Counts stay exact, Suppressed counts what was left out, and the next event
// of the name logged carries suppressed=N. Recover (recover.go) is the one
// panic guard of every worker that handles wire input.
package events
