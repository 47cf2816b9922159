package main

// Text rendering of the control API's documents, after the Cisco show
// commands an operator knows ("show crypto gdoi", "show crypto gdoi ks
// members", "show crypto isakmp sa"). Fields the API leaves empty are left
// out rather than printed as blanks.

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/getlab/getlab/gateway/config"
	"github.com/getlab/getlab/gateway/control"
	"github.com/getlab/getlab/gateway/events"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
)

// labelWidth is the width of indent and label, as Cisco pads them.
const labelWidth = 29

// printer writes "label : value" lines at an indent.
type printer struct {
	w io.Writer
}

func (p printer) kv(indent int, label string, value any) {
	pad := labelWidth - indent - len(label)
	if pad < 0 {
		pad = 0
	}
	fmt.Fprintf(p.w, "%s%s%s: %v\n", strings.Repeat(" ", indent), label, strings.Repeat(" ", pad), value)
}

func (p printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

// formatGDOI renders GET /v1/gdoi like "show crypto gdoi".
func formatGDOI(w io.Writer, g control.GDOI) {
	p := printer{w}
	head := "getvpnd"
	if g.Version != "" {
		head += " " + g.Version
	}
	if g.GDOIVersion != "" {
		head += " (GDOI " + g.GDOIVersion + ")"
	}
	head += ", role " + roleName(g.Role)
	if g.Identity != "" {
		head += ", identity " + g.Identity
	}
	if g.Scale != 0 && g.Scale != 1 {
		head += ", timer scale " + strconv.FormatFloat(g.Scale, 'g', -1, 64) + " (times below are protocol seconds)"
	}
	p.line("%s", head)
	if len(g.Groups) == 0 {
		p.line("")
		p.line("No groups configured.")
		return
	}
	for _, grp := range g.Groups {
		p.line("")
		p.line("GROUP INFORMATION")
		p.line("")
		switch {
		case grp.KS != nil:
			formatKSGroup(p, grp)
		case grp.GM != nil:
			formatGMGroup(p, g, grp)
		default:
			p.kv(4, "Group Name", grp.Name)
			p.kv(4, "Group Identity", grp.ID)
		}
		formatKEK(p, grp)
		formatTEKs(p, grp)
	}
	if g.DataPlane != nil {
		formatDataPlane(p, g.DataPlane)
	}
}

func formatKSGroup(p printer, grp control.GroupStatus) {
	ks := grp.KS
	name := grp.Name
	if ks.RekeyTransport != "" {
		name += " (" + title(ks.RekeyTransport) + ")"
	}
	p.kv(4, "Group Name", name)
	p.kv(4, "Group Identity", grp.ID)
	p.kv(4, "Group Members", ks.Members)
	if d := saDirection(grp.TEKs); d != "" {
		p.kv(4, "IPSec SA Direction", d)
	}
	p.kv(4, "Active Group Server", "Local")
	p.kv(4, "Registrations", ks.Registrations)
	p.kv(4, "Rekeys sent", ks.RekeysSent)
	p.kv(4, "Rekeys retransmitted", ks.Retransmits)
	if ks.RekeyTransport == "unicast" {
		p.kv(4, "Rekey acks received", ks.AcksReceived)
		p.kv(4, "GMs deleted (no ack)", ks.GMsDeleted)
	}
	p.kv(4, "Rekey seq num", ks.Seq)
	p.kv(4, "Next TEK rekey in", remaining(ks.NextTEKRekeyIn)+" secs")
	p.kv(4, "Next KEK rekey in", remaining(ks.NextKEKRekeyIn)+" secs")
	if l := ks.LastRekey; l != nil {
		last := fmt.Sprintf("%s, seq %s", l.Kind, seqs(l.Seqs))
		if ks.RekeyTransport == "unicast" {
			last += fmt.Sprintf(", acked by %d of %d GMs", l.Acked, l.GMs)
			if l.AllAckedMs > 0 {
				last += fmt.Sprintf(" in %.1f ms", l.AllAckedMs)
			}
		}
		p.kv(4, "Last rekey", last)
	}
	if ks.RekeyAddress != "" {
		p.kv(4, "Rekey Address", ks.RekeyAddress)
	}
	if ks.SigningKeyBits != 0 || ks.SigningKeyHash != "" {
		p.kv(4, "Signing Key Length (bits)", ks.SigningKeyBits)
		if ks.SigningKeyHash != "" {
			p.kv(4, "Signing Key SHA-256", ks.SigningKeyHash)
		}
	}
	if k := grp.KEK; k != nil {
		p.kv(4, "Group Rekey Lifetime", secs(k.Lifetime)+" secs")
		p.line("    Group Rekey")
		p.kv(6, "Remaining Lifetime", remaining(k.Remaining)+" secs")
	}
	p.kv(4, "IPSec SA Number", len(grp.TEKs))
	if len(grp.TEKs) > 0 {
		t := grp.TEKs[len(grp.TEKs)-1]
		p.kv(4, "IPSec SA Rekey Lifetime", secs(t.Lifetime)+" secs")
		p.line("    SA Rekey")
		p.kv(6, "Remaining Lifetime", remaining(t.Remaining)+" secs")
	}
	p.line("")
	if len(grp.ACL) == 0 {
		p.line(" ACL Configured: none")
	} else {
		p.line(" ACL Configured:")
		for _, ace := range grp.ACL {
			p.line("   access-list   %s", ace)
		}
	}
}

func formatGMGroup(p printer, g control.GDOI, grp control.GroupStatus) {
	gm := grp.GM
	p.kv(4, "Group Name", grp.Name)
	p.kv(4, "Group Identity", grp.ID)
	if d := saDirection(grp.TEKs); d != "" {
		p.kv(4, "IPSec SA Direction", d)
	}
	if gm.KeyServer != "" {
		p.kv(4, "Active Group Server", gm.KeyServer)
	}
	p.line("")
	if len(gm.KSList) == 0 {
		p.kv(4, "Group Server list", "none")
	}
	for i, ks := range gm.KSList {
		if i == 0 {
			p.kv(4, "Group Server list", ks)
		} else {
			p.line("%s%s", strings.Repeat(" ", labelWidth+2), ks)
		}
	}
	p.line("")
	member := g.Identity
	if member == "" {
		member = "(local)"
	}
	p.kv(4, "Group member", member)
	if g.GDOIVersion != "" {
		p.kv(7, "Version", g.GDOIVersion)
	}
	p.kv(7, "Registration status", title(gm.State))
	if gm.KeyServer != "" {
		if gm.State == "registered" {
			p.kv(7, "Registered with", gm.KeyServer)
		} else {
			p.kv(7, "Registering with", gm.KeyServer)
		}
	}
	if gm.ReregisterIn != nil {
		in := remaining(*gm.ReregisterIn) + " sec"
		if gm.ReregisterFor != "" {
			in += " (" + strings.ToUpper(gm.ReregisterFor) + ")"
		}
		p.kv(7, "Re-registers in", in)
	}
	p.kv(7, "Succeeded registration", gm.Registrations)
	p.kv(7, "Attempted registration", gm.Attempts)
	if gm.LastRegistered != nil {
		p.kv(7, "Last registration", gm.LastRegistered.UTC().Format(time.RFC3339))
	}
	p.kv(7, "Last rekey seq num", gm.Seq)
	if gm.RekeyTransport != "" {
		p.kv(7, "Rekey transport", title(gm.RekeyTransport))
	}
	p.kv(7, "Rekeys received", gm.RekeysReceived)
	if gm.Direction != "" {
		// "IPSec SA Direction : Inbound Optional" (S0 §4.4.4).
		dir := map[string]string{"both": "Both", "inbound-only": "Inbound Only", "inbound-optional": "Inbound Optional"}[gm.Direction]
		if gm.DirectionBy != "ks" {
			dir += " (" + gm.DirectionBy + ")"
		}
		p.kv(7, "IPSec SA Direction", dir)
	}
	p.kv(7, "Rekey acks sent", gm.AcksSent)
	p.kv(7, "Rekeys rejected", gm.RekeysRejected)
	if gm.LastRekey != nil {
		p.kv(7, "Last rekey", gm.LastRekey.UTC().Format(time.RFC3339))
	}
	if gm.PreviousKEK != "" {
		p.kv(7, "Previous KEK SPI", gm.PreviousKEK)
	}
	if gm.LastError != "" {
		p.kv(7, "Last error", gm.LastError)
	}
	p.line("")
	from := gm.KeyServer
	if from == "" {
		from = "(none)"
	}
	if len(grp.ACL) == 0 {
		p.line(" ACL Downloaded From KS %s: none", from)
	} else {
		p.line(" ACL Downloaded From KS %s:", from)
		for _, ace := range grp.ACL {
			p.line("   access-list   %s", ace)
		}
	}
	if len(grp.LocalACL) > 0 {
		p.line(" ACL Configured Locally:")
		for _, ace := range grp.LocalACL {
			p.line("   access-list   %s", ace)
		}
	}
}

func formatKEK(p printer, grp control.GroupStatus) {
	p.line("")
	k := grp.KEK
	if k == nil {
		p.line("KEK POLICY: none")
		return
	}
	p.line("KEK POLICY:")
	if grp.KS != nil && grp.KS.RekeyTransport != "" {
		p.kv(4, "Rekey Transport Type", title(grp.KS.RekeyTransport))
	}
	p.kv(4, "SPI", k.SPI)
	p.kv(4, "Lifetime (secs)", secs(k.Lifetime))
	p.kv(4, "Remaining Lifetime (secs)", remaining(k.Remaining))
	p.kv(4, "Encrypt Algorithm", strings.ToUpper(k.Algorithm))
	p.kv(4, "Key Size", k.KeyBits)
	p.kv(4, "Sig Hash Algorithm", strings.ToUpper(k.SigHash))
	if k.SigAlgorithm != "" {
		p.kv(4, "Sig Algorithm", strings.ToUpper(k.SigAlgorithm))
	}
	p.kv(4, "Sig Key Length (bits)", k.SigKeyBits)
	p.kv(4, "Rekey seq num", k.Seq)
}

func formatTEKs(p printer, grp control.GroupStatus) {
	p.line("")
	if len(grp.TEKs) == 0 {
		p.line("TEK POLICY: none")
		return
	}
	p.line("TEK POLICY:")
	for _, t := range grp.TEKs {
		p.line("    IPsec SA:")
		p.line("        spi: %s", spi(t.SPI))
		p.line("        transform: %s", t.Transform)
		if t.Direction != "" {
			p.line("        direction: %s", t.Direction)
		}
		p.line("        selector: %s", selector(t))
		if t.AddressPreservation != "" {
			p.line("        address preservation: %s", t.AddressPreservation)
		}
		p.line("        sa timing:remaining key lifetime (sec): (%s)", remaining(t.Remaining))
		p.line("        lifetime (sec): %s", secs(t.Lifetime))
		if c := t.Counters; c != nil {
			if !c.Send {
				p.line("        receive only: %s", c.NoSendReason)
			}
			p.line("        #pkts encrypt: %d, #bytes encrypt: %d", c.EncryptedPackets, c.EncryptedBytes)
			p.line("        #pkts decrypt: %d, #bytes decrypt: %d", c.DecryptedPackets, c.DecryptedBytes)
			p.line("        #pkts verify failed: %d, #pkts outside selector: %d", c.AuthFailures, c.PolicyDrops)
		}
		p.line("")
	}
}

// formatDataPlane renders a GM's data plane: where it sits and its
// verdict counters (non-zero ones, or all with their names when none is).
func formatDataPlane(p printer, dp *control.DataPlane) {
	p.line("")
	if !dp.Enabled {
		p.line("DATA PLANE: disabled (data_plane.enabled: false)")
		return
	}
	p.line("DATA PLANE:")
	if dp.Error != "" {
		p.kv(4, "Status", "NOT RUNNING: "+dp.Error)
	} else {
		p.kv(4, "Status", "running")
		p.kv(4, "WAN interface", dp.WANInterface)
		p.kv(4, "TUN devices", dp.LANDevice+" (from the LAN), "+dp.WANDevice+" (from the WAN)")
		p.kv(4, "Queues", dp.Queues)
	}
	p.kv(4, "WAN MTU", dp.WANMTU)
	p.kv(4, "DF bit", dp.DFBit)
	p.kv(4, "Local deny inbound", dp.LocalDenyInbound)
	if dp.FailClose != "" && dp.FailClose != "off" {
		p.kv(4, "Fail-close", dp.FailClose)
		for _, e := range dp.FailCloseACL {
			p.line("        %s", e)
		}
	}
	if dp.DaemonDown != "" {
		p.kv(4, "While getvpnd is down", map[string]string{"drop": "forwarded traffic dropped", "pass": "forwarded traffic in clear"}[dp.DaemonDown])
	}
	names := make([]string, 0, len(dp.Counters))
	for n := range dp.Counters {
		names = append(names, n)
	}
	sort.Strings(names)
	p.line("    Packets:")
	for _, n := range names {
		if dp.Counters[n] != 0 {
			p.line("        %-24s %d", n, dp.Counters[n])
		}
	}
}

// formatMembers renders GET /v1/ks/members like "show crypto gdoi ks members".
func formatMembers(w io.Writer, ms []control.Member) {
	p := printer{w}
	if len(ms) == 0 {
		p.line("No group members registered.")
		return
	}
	p.line("Group Member Information :")
	for _, m := range ms {
		p.line("")
		p.line("Group Member ID    : %-16s GM Version: %s", m.Address, m.Version)
		mk := func(label string, v any) { p.line(" %-18s: %v", label, v) }
		mk("Group ID", m.GroupID)
		mk("Group Name", m.Group)
		mk("Key Server ID", m.KeyServer)
		if m.Identity != "" {
			mk("Identity", m.Identity)
		}
		if !m.RegisteredAt.IsZero() {
			mk("Registered at", m.RegisteredAt.UTC().Format(time.RFC3339))
		}
		mk("Registrations", m.Registrations)
		mk("Rekeys sent", m.RekeysSent)
		mk("Rekeys retries", m.RekeyRetries)
		mk("Rekey Acks Rcvd", m.AcksReceived)
		mk("Rekey Acks missed", m.AcksMissed)
		p.line("")
		p.line(" Sent seq num : %s", seqs(m.SentSeq))
		p.line(" Rcvd seq num : %s", seqs(m.ReceivedSeq))
	}
}

// formatFeatures renders GET /v1/gdoi/feature like "show crypto gdoi
// feature [NAME]" (S0 §3.15): per group, the key servers and the group
// members with their versions and, with NAME, whether each supports it —
// by the features it listed, else by its version (S0 Table 3), else
// Unknown.
func formatFeatures(w io.Writer, f control.Features, name string) {
	p := printer{w}
	col := "Features"
	if name != "" {
		col = "Feature Supported"
	}
	row := func(d control.Device) {
		v := strings.Join(d.Features, ",")
		if name != "" {
			v = supported(d, name)
		}
		p.line("        %-18s %-10s %s", d.Address, d.Version, v)
	}
	for _, g := range f.Groups {
		p.line("Group Name: %s", g.Group)
		if len(g.KeyServers) > 0 {
			p.line("    %-22s %-10s %s", "Key Server ID", "Version", col)
			for _, d := range g.KeyServers {
				row(d)
			}
		}
		p.line("    %-22s %-10s %s", "Group Member ID", "Version", col)
		for _, d := range g.Members {
			row(d)
		}
	}
}

// supported is "Yes", "No" or "Unknown" for a device and a feature.
func supported(d control.Device, name string) string {
	if d.Features != nil {
		return map[bool]string{true: "Yes", false: "No"}[slices.Contains(d.Features, name)]
	}
	at, known := config.FeatureVersions[name]
	v, err := gdoiwire.ParseVersion(d.Version)
	if err != nil || !known {
		return "Unknown"
	}
	return map[bool]string{true: "Yes", false: "No"}[!v.Less(at)]
}

// formatCOOP renders GET /v1/ks/coop like "show crypto gdoi ks coop"
// (S0 §5.4.1.7): the local KS and its timers, then a session per peer
// with its counters.
func formatCOOP(w io.Writer, gs []control.COOP) {
	p := printer{w}
	if len(gs) == 0 {
		p.line("No group has cooperative key servers.")
		return
	}
	for i, g := range gs {
		if i > 0 {
			p.line("")
		}
		p.line("Crypto Gdoi Group Name :%s", g.Group)
		p.line("Local Address: %s", g.LocalAddress)
		p.line("Local Priority: %d", g.LocalPriority)
		p.line("Local KS Role: %s , Local KS Status: %s", title(g.Role), title(g.Status))
		p.line("Local KS version: %s", g.Version)
		if g.Primary != "" && g.Role != "primary" {
			p.line("Primary KS: %s%s", g.Primary, map[bool]string{true: "", false: " (keys not yet received)"}[g.Synced])
		}
		if g.Electing {
			p.line("Election in progress: reply-request round %d of %d", g.Retries, g.Retransmit)
		}
		if g.Role == "primary" {
			p.line("Primary Timers:")
			p.line("    Primary Refresh Policy Time: %s", secs(g.Refresh))
			p.line("    Remaining Time: %s", secs(float64(int(g.Remaining))))
		} else {
			p.line("Secondary Timers:")
			p.line("    Sec Primary Periodic Time: %s", secs(g.Periodic))
			p.line("    Remaining Time: %s, Retries: %d", secs(float64(int(g.Remaining))), g.Retries)
		}
		p.line("")
		p.line("Peer Sessions:")
		for j, s := range g.Peers {
			p.line("  Session %d:", j+1)
			p.line("    Peer Address: %s", s.Address)
			p.line("    Peer Version: %s", orDash(s.Version))
			p.line("    Peer Priority: %d", s.Priority)
			p.line("    Peer KS Role: %s , Peer KS Status: %s", title(s.Role), title(s.Status))
			p.line("    Antireplay Sequence Number: %d", s.AntireplaySeq)
			p.line("    IKE status: %s", title(s.IKEStatus))
			p.line("    Counters:")
			p.line("        Ann msgs sent: %d", s.AnnSent)
			p.line("        Ann msgs sent with reply request: %d", s.AnnSentReplyRequest)
			p.line("        Ann msgs recv: %d", s.AnnRecv)
			p.line("        Ann msgs recv with reply request: %d", s.AnnRecvReplyRequest)
			p.line("        Packet sent drops: %d", s.PacketSentDrops)
			p.line("        Packet Recv drops: %d", s.PacketRecvDrops)
			p.line("        Total bytes sent: %d", s.BytesSent)
			p.line("        Total bytes recv: %d", s.BytesRecv)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatIKESAs renders GET /v1/ike/sa like "show crypto isakmp sa".
func formatIKESAs(w io.Writer, sas []control.IKESA) {
	if len(sas) == 0 {
		fmt.Fprintln(w, "No IKE SAs.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "local\tpeer\tstate\trole\tsuite\tlifetime\tremaining\tcookies")
	for _, s := range sas {
		role := "R"
		if s.Initiator {
			role = "I"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Local, s.Peer, s.State, role, s.Suite,
			secs(s.Lifetime), hms(s.Remaining), s.Cookies)
	}
	tw.Flush()
}

// formatCounters renders GET /v1/counters, sorted by name.
func formatCounters(w io.Writer, m map[string]uint64) {
	if len(m) == 0 {
		fmt.Fprintln(w, "No counters.")
		return
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	nw, vw := 0, 0
	for _, k := range names {
		nw = max(nw, len(k))
		vw = max(vw, len(strconv.FormatUint(m[k], 10)))
	}
	for _, k := range names {
		fmt.Fprintf(w, "%-*s  %*d\n", nw, k, vw, m[k])
	}
}

// formatEvent renders one event as the daemon's text log writes it, after
// its sequence number.
func formatEvent(w io.Writer, e control.Event) {
	fmt.Fprintf(w, "%6d %s %s\n", e.Seq, e.Time.UTC().Format(events.TimeFormat), events.Line(e))
}

func roleName(r string) string {
	switch r {
	case "ks":
		return "KS (key server)"
	case "gm":
		return "GM (group member)"
	case "":
		return "unknown"
	}
	return r
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// saDirection summarises the TEKs' directions as Cisco's "IPSec SA
// Direction" does.
func saDirection(teks []control.TEK) string {
	d := ""
	for _, t := range teks {
		if d == "" {
			d = t.Direction
		} else if t.Direction != d {
			return "Mixed"
		}
	}
	switch d {
	case "both":
		return "Both"
	case "receive":
		return "Inbound Only"
	case "send":
		return "Outbound Only"
	}
	return title(d)
}

// secs prints a configured lifetime in seconds.
func secs(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// remaining prints a time left, in whole seconds, counting down.
func remaining(f float64) string {
	if f <= 0 || f != f {
		return "0"
	}
	return strconv.FormatInt(int64(f), 10)
}

// hms prints a time left as Cisco's isakmp SA lifetime: 23:55:17.
func hms(f float64) string {
	n, _ := strconv.ParseInt(remaining(f), 10, 64)
	return fmt.Sprintf("%d:%02d:%02d", n/3600, n/60%60, n%60)
}

// spi prints a TEK SPI as Cisco does: 0xD835DB99(3627408281).
func spi(s string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	n, err := strconv.ParseUint(h, 16, 32)
	if err != nil || h == "" {
		return s
	}
	return fmt.Sprintf("0x%08X(%d)", n, n)
}

func selector(t control.TEK) string {
	end := func(pfx string, port uint16) string {
		if pfx == "" {
			pfx = "any"
		}
		if port != 0 {
			return pfx + " port " + strconv.Itoa(int(port))
		}
		return pfx
	}
	s := end(t.Src, t.SrcPort) + " -> " + end(t.Dst, t.DstPort)
	if t.Protocol != 0 {
		s += " proto " + strconv.Itoa(int(t.Protocol))
	}
	return s
}

func seqs(s []uint32) string {
	if len(s) == 0 {
		return "-"
	}
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(parts, " ")
}
