// Package impl is the bench's registry of GETVPN implementations: each
// is described by images/<name>/implementation.yaml (beside its Dockerfile
// where it has one) and config templates beside it. An implementation
// says which roles it plays, how it runs in each runtime, how its config
// is rendered from a neutral scenario (harness/scenario), when a node is
// ready, and what it offers the bench (capabilities); specs ask for
// capabilities and skip, with one fixed sentence, when a pairing lacks
// them (DESIGN.md "Interop"). See images/README.md for the file format.
package impl

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// Role is a part an implementation plays.
type Role string

// Roles.
const (
	KS     Role = "ks"
	GM     Role = "gm"
	COOPKS Role = "coop-ks" // a key server cooperating with others (later)
)

var roles = []Role{KS, GM, COOPKS}

// Label is how a role is named in messages ("KS implementation ...").
func (r Role) Label() string {
	switch r {
	case KS:
		return "KS"
	case GM:
		return "GM"
	case COOPKS:
		return "COOP KS"
	}
	return string(r)
}

// Capability is something an implementation offers the bench.
type Capability string

// Capabilities.
const (
	// TimerScale: runs protocol timers faster by a factor (timers.scale).
	TimerScale Capability = "timer-scale"
	// KeyLog: writes its keys in the bench's key-log format, so that
	// captures can be decrypted.
	KeyLog Capability = "keylog"
	// Status: a command prints the normalized status JSON (see Status).
	Status Capability = "status"
	// Events: logs the seeds' events (Cisco mnemonics) and shows its
	// state — member database, downloaded policy, data-plane verdict and
	// per-SA counters — where the bench reads them: getvpnd's control
	// socket (suitekit.NodeControlSocket). An implementation without it is
	// judged on the wire and its status command alone.
	Events Capability = "events"
	// DataPlane: a GM that encrypts and decrypts traffic (ESP).
	DataPlane Capability = "data-plane"
	// UnicastRekey and MulticastRekey: sends (KS) or takes (GM)
	// GROUPKEY-PUSH over that transport.
	UnicastRekey   Capability = "unicast-rekey"
	MulticastRekey Capability = "multicast-rekey"
	// Acks: RFC 8263 rekey acknowledgements (the modes in Acks).
	Acks Capability = "acks"
	// InteropProfiles: speaks wire variants other than plain RFC
	// (the names in InteropProfiles).
	InteropProfiles Capability = "interop-profiles"
	// DPD: a GM sends RFC 3706 R-U-THEREs to its key server as the
	// scenario's ike.keepalive says, and declares it dead after five
	// unanswered (the seeds' keepalive).
	DPD Capability = "dpd"
	// COOP: cooperative key servers: the implementation's KSs elect a
	// primary, sync keys and members and fail over, speaking getvpnd's
	// COOP announcements (no public COOP wire format exists, so only
	// implementations that speak getvpnd's can cooperate with it).
	COOP Capability = "coop"
	// GDOIVersions: announces its GDOI version and features in main mode
	// (the Vendor ID of README "GDOI versions") and takes a staged one
	// from the scenario (gdoi_version of a key server or group member).
	GDOIVersions Capability = "gdoi-versions"
	// TriggeredRekey: a command makes the key server rekey at once, with
	// policy replacement or replace-now (RekeyCap).
	TriggeredRekey Capability = "triggered-rekey"
	// Clear: a command clears a key server's registrations (ClearCap).
	Clear Capability = "clear"
	// Reminders: a key server sends periodic reminder rekeys to GMs that
	// did not acknowledge (a group's rekey.retransmit.periodic, RK-31).
	Reminders Capability = "reminders"
	// FailClose: a group member's fail-close mode (a scenario GM's
	// fail_close, GM-51): until registered it drops forwarded traffic its
	// fail-close ACL does not deny, and a clear arms it again.
	FailClose Capability = "fail-close"
	// SADirection: the IPsec SA direction modes of S0 Table 5 (GM-60 to
	// GM-64): a key server hands out receive-only TEKs (a scenario
	// group's receive_only) and a rekey without it migrates its GMs
	// through inbound-optional to both; a group member takes them,
	// offers the passive SA mode (a scenario GM's passive) and a command
	// setting its direction until the next rekey (DirectionCap).
	SADirection Capability = "sa-direction"
	// Reload: a command makes a key server reread its config file, as
	// the bench rewrote it in the node (ReloadCap): a policy change then
	// goes out with the next rekey.
	Reload Capability = "reload"
	// GMClear: a command run in a group member's node is the seeds'
	// "clear crypto gdoi" there: keys and policy deleted, fail-close
	// armed again, registered afresh (ClearCap).
	GMClear Capability = "gm-clear"
	// GMRemoval: commands make a key server remove its GMs (RemovalCap),
	// the seeds' "clear crypto gdoi ks members [now]" (RK-60, RK-61).
	GMRemoval Capability = "gm-removal"
	// KEKAtExpiry: a key server can be staged as one of old that sends
	// the KEK rekey only at the KEK's expiry (a scenario's
	// rekey.kek_at_expiry, GM-86).
	KEKAtExpiry Capability = "kek-at-expiry"
	// DFBit: a group member's DF policy for the ESP it sends (a scenario
	// GM's df_bit: copy, set or clear, DP-43; the seeds' "crypto ipsec
	// df-bit").
	DFBit Capability = "df-bit"
	// TCPMSS: a group member lowers the MSS option of the TCP SYNs and
	// SYN-ACKs it encrypts or decrypts (a scenario GM's tcp_mss, DP-40;
	// the seeds' "ip tcp adjust-mss" on the LAN interface).
	TCPMSS Capability = "tcp-mss"
	// MulticastData: a group member encrypts the IP multicast of its LAN
	// interfaces with the group SA, the group kept as the outer
	// destination, and delivers what it decrypts to them (a scenario
	// GM's multicast_lan, DP-60).
	MulticastData Capability = "multicast-data"
	// ClockSkew: a node's clock can be staged off the lab's, by an
	// offset and a drift (a scenario KS's or GM's clock), for the whole
	// daemon: a KS an hour ahead, a GM whose clock runs fast.
	ClockSkew Capability = "clock-skew"
)

// AllCapabilities lists every capability name implementation.yaml knows.
var AllCapabilities = []Capability{TimerScale, KeyLog, Status, Events, DataPlane, UnicastRekey, MulticastRekey, Acks, InteropProfiles, DPD, COOP, GDOIVersions, TriggeredRekey, Clear, Reminders, FailClose, SADirection, Reload, GMClear, GMRemoval, KEKAtExpiry, DFBit, ClockSkew, TCPMSS, MulticastData}

// KeyLogFormat is the key-log format the bench reads (pcap.KeyLog).
const KeyLogFormat = "getlab-v1"

// Impl is one registered implementation.
type Impl struct {
	// Name is the implementation's name (its directory under images/).
	Name string
	// Dir is the directory holding implementation.yaml.
	Dir string
	file
	templates map[Role]*template.Template
}

// file is implementation.yaml as written.
type file struct {
	Name        string             `yaml:"name"`
	Description string             `yaml:"description"`
	Roles       []Role             `yaml:"roles"`
	Run         Run                `yaml:"run"`
	Config      ConfigSpec         `yaml:"config"`
	Readiness   map[Role]Readiness `yaml:"readiness"`
	Caps        Capabilities       `yaml:"capabilities"`
	Minimums    Minimums           `yaml:"minimums"`
}

// Run says how the implementation runs in each runtime. Commands are
// argument lists; each argument may use the placeholders of CommandData.
type Run struct {
	// NetNS runs a command on the host inside the node's namespaces.
	NetNS *NetNSRun `yaml:"netns"`
	// Docker runs an image (containerlab uses the same entry unless
	// Containerlab is given).
	Docker       *ImageRun `yaml:"docker"`
	Containerlab *ImageRun `yaml:"containerlab"`
}

// NetNSRun is the netns runtime's command.
type NetNSRun struct {
	Command []string `yaml:"command"`
}

// ImageRun is a container runtime's image and the command given to it
// (its entrypoint's arguments; empty keeps the image's default).
type ImageRun struct {
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
}

// ConfigSpec is where the rendered config goes and which template renders
// it per role.
type ConfigSpec struct {
	// Path is the config file's path inside the node.
	Path string `yaml:"path"`
	// Templates maps a role to a Go text/template file beside
	// implementation.yaml.
	Templates map[Role]string `yaml:"templates"`
}

// Readiness says when a node of a role is ready for the spec to go on.
// At most one of its fields is set; none set means the role's default.
type Readiness struct {
	// UDP: a socket is bound to this UDP port in the node's network
	// namespace (read from /proc/net/udp, so nothing is sent on the wire).
	UDP uint16 `yaml:"udp"`
	// Command: this command, run in the node, exits 0.
	Command []string `yaml:"command"`
	// Started: the node's process is running, nothing more.
	Started bool `yaml:"started"`
}

// Kind names the readiness check: "udp", "command" or "started".
func (r Readiness) Kind() string {
	switch {
	case r.UDP != 0:
		return "udp"
	case len(r.Command) > 0:
		return "command"
	}
	return "started"
}

// DefaultReadiness is a role's readiness when implementation.yaml says
// none: a key server answers on GDOI's UDP 848; a group member has no
// listening port that would mean anything (it registers as an initiator),
// so it is ready once started, and its registration is judged on the wire.
func DefaultReadiness(r Role) Readiness {
	if r == KS || r == COOPKS {
		return Readiness{UDP: 848}
	}
	return Readiness{Started: true}
}

// Capabilities is what an implementation offers; an absent key is a
// capability not offered.
type Capabilities struct {
	TimerScale      *TimerScaleCap `yaml:"timer-scale"`
	KeyLog          *KeyLogCap     `yaml:"keylog"`
	Status          *StatusCap     `yaml:"status"`
	Events          bool           `yaml:"events"`
	DataPlane       bool           `yaml:"data-plane"`
	UnicastRekey    bool           `yaml:"unicast-rekey"`
	MulticastRekey  bool           `yaml:"multicast-rekey"`
	Acks            []string       `yaml:"acks"`
	InteropProfiles []string       `yaml:"interop-profiles"`
	DPD             bool           `yaml:"dpd"`
	COOP            bool           `yaml:"coop"`
	GDOIVersions    bool           `yaml:"gdoi-versions"`
	TriggeredRekey  *RekeyCap      `yaml:"triggered-rekey"`
	Clear           *ClearCap      `yaml:"clear"`
	Reminders       bool           `yaml:"reminders"`
	FailClose       bool           `yaml:"fail-close"`
	SADirection     *DirectionCap  `yaml:"sa-direction"`
	Reload          *ReloadCap     `yaml:"reload"`
	GMClear         *ClearCap      `yaml:"gm-clear"`
	GMRemoval       *RemovalCap    `yaml:"gm-removal"`
	KEKAtExpiry     bool           `yaml:"kek-at-expiry"`
	DFBit           bool           `yaml:"df-bit"`
	TCPMSS          bool           `yaml:"tcp-mss"`
	MulticastData   bool           `yaml:"multicast-data"`
	ClockSkew       bool           `yaml:"clock-skew"`
}

// RemovalCap: commands run in a key server's node remove its GMs: Command
// the transient removal (the KEK deleted, the TEKs shortened, GMs register
// again before they end), Now the immediate one (every key deleted).
type RemovalCap struct {
	Command []string `yaml:"command"`
	Now     []string `yaml:"now"`
}

// DirectionCap: the SA direction modes (capability sa-direction); Command,
// run in a group member's node with the direction appended ("both",
// "inbound-only" or "inbound-optional"), sets every group's direction
// until the next rekey from its key server (the seeds' "crypto gdoi gm
// ipsec direction", GM-63).
type DirectionCap = CommandCap

// Directions are the words DirectionCap's command takes (S0 Table 5).
var Directions = []string{"both", "inbound-only", "inbound-optional"}

// ReloadCap: a command run in a key server's node makes it reread its
// config file (config.path) without a restart.
type ReloadCap = CommandCap

// RekeyCap: commands run in a key server's node send a triggered rekey
// at once (S0 §3.16, "crypto gdoi ks rekey [replace-now]"): new TEKs,
// the old ones shortened to TEK_SLT (Command) or deleted (ReplaceNow).
type RekeyCap struct {
	Command    []string `yaml:"command"`
	ReplaceNow []string `yaml:"replace-now"`
}

// ClearCap: a command run in a key server's node is the seeds' "clear
// crypto gdoi" (KS-53): registrations cleared, policies deleted, nothing
// sent to the GMs (capability clear); in a group member's node (gm-clear),
// its keys and policy deleted and a new registration.
type ClearCap = CommandCap

// CommandCap is a capability that is one command run in a node: the
// operator's action the capability names (ClearCap, DirectionCap,
// ReloadCap).
type CommandCap struct {
	Command []string `yaml:"command"`
}

// TimerScaleCap: the implementation scales its protocol timers.
type TimerScaleCap struct {
	// Floor is the smallest scale it runs correctly at (0 < floor <= 1).
	Floor float64 `yaml:"floor"`
}

// KeyLogCap: the implementation writes a key log.
type KeyLogCap struct {
	Path   string `yaml:"path"`   // in the node
	Format string `yaml:"format"` // KeyLogFormat
}

// StatusCap: a command run in the node prints the normalized status.
type StatusCap struct {
	Command []string `yaml:"command"`
}

// Minimums are the shortest lifetimes (protocol seconds) the
// implementation accepts; 0 means any positive lifetime.
type Minimums struct {
	TEKLifetime int `yaml:"tek_lifetime"`
	KEKLifetime int `yaml:"kek_lifetime"`
}

// Plays reports whether the implementation plays role r.
func (im *Impl) Plays(r Role) bool { return slices.Contains(im.Roles, r) }

// Offers reports whether the implementation offers capability c.
func (im *Impl) Offers(c Capability) bool {
	k := &im.Caps
	switch c {
	case TimerScale:
		return k.TimerScale != nil
	case KeyLog:
		return k.KeyLog != nil
	case Status:
		return k.Status != nil
	case Events:
		return k.Events
	case DataPlane:
		return k.DataPlane
	case UnicastRekey:
		return k.UnicastRekey
	case MulticastRekey:
		return k.MulticastRekey
	case Acks:
		return len(k.Acks) > 0
	case InteropProfiles:
		return len(k.InteropProfiles) > 0
	case DPD:
		return k.DPD
	case COOP:
		return k.COOP
	case GDOIVersions:
		return k.GDOIVersions
	case TriggeredRekey:
		return k.TriggeredRekey != nil
	case Clear:
		return k.Clear != nil && len(k.Clear.Command) > 0
	case Reminders:
		return k.Reminders
	case DFBit:
		return k.DFBit
	case TCPMSS:
		return k.TCPMSS
	case MulticastData:
		return k.MulticastData
	case ClockSkew:
		return k.ClockSkew
	case FailClose:
		return k.FailClose
	case SADirection:
		return k.SADirection != nil && len(k.SADirection.Command) > 0
	case Reload:
		return k.Reload != nil && len(k.Reload.Command) > 0
	case GMClear:
		return k.GMClear != nil && len(k.GMClear.Command) > 0
	case KEKAtExpiry:
		return k.KEKAtExpiry
	case GMRemoval:
		return k.GMRemoval != nil && len(k.GMRemoval.Command) > 0 && len(k.GMRemoval.Now) > 0
	}
	return false
}

// OffersProfile reports whether the implementation speaks interop
// profile p; every implementation speaks "rfc".
func (im *Impl) OffersProfile(p string) bool {
	return p == "rfc" || slices.Contains(im.Caps.InteropProfiles, p)
}

// ReadinessOf returns the readiness check of role r.
func (im *Impl) ReadinessOf(r Role) Readiness {
	if x, ok := im.Readiness[r]; ok {
		return x
	}
	return DefaultReadiness(r)
}

// RequireCapabilities returns why a spec needing caps from the
// implementation im playing role must skip, or "" when im plays the role
// and offers every one of them. The sentence is fixed, so that reports
// group skips: "KS implementation X does not offer Y" (Y a capability or
// "role ks").
func RequireCapabilities(role Role, im *Impl, caps ...Capability) string {
	if !im.Plays(role) {
		return fmt.Sprintf("%s implementation %s does not offer role %s", role.Label(), im.Name, role)
	}
	for _, c := range caps {
		if !im.Offers(c) {
			return fmt.Sprintf("%s implementation %s does not offer %s", role.Label(), im.Name, c)
		}
	}
	return ""
}

// RequireLifetimes returns why a spec whose group has TEKs of tek and a
// KEK of kek protocol seconds must skip with im playing role, or "" when
// im accepts them (its minimums): "KS implementation X does not offer TEK
// lifetimes of 300 s (its minimum is 900 s)".
func RequireLifetimes(role Role, im *Impl, tek, kek int) string {
	for _, l := range []struct {
		what       string
		got, least int
	}{{"TEK", tek, im.Minimums.TEKLifetime}, {"KEK", kek, im.Minimums.KEKLifetime}} {
		if l.got < l.least {
			return fmt.Sprintf("%s implementation %s does not offer %s lifetimes of %d s (its minimum is %d s)",
				role.Label(), im.Name, l.what, l.got, l.least)
		}
	}
	return ""
}

// CommandData are the placeholders of a run command.
type CommandData struct {
	// Config is the rendered config's path in the node (config.path).
	Config string
	// Bin is the directory of the binaries built from this tree (netns).
	Bin string
	// Node is the topology node's name, Role its role.
	Node string
	Role Role
}

// Command returns the argument list the runtime ("netns", "docker" or
// "containerlab") runs for node, placeholders expanded, and the image for
// the container runtimes ("" for netns).
func (im *Impl) Command(runtime string, d CommandData) (image string, argv []string, err error) {
	var args []string
	switch runtime {
	case "netns":
		if im.Run.NetNS == nil {
			return "", nil, fmt.Errorf("%s: no run.netns entry", im.Name)
		}
		args = im.Run.NetNS.Command
	case "docker", "containerlab":
		r := im.Run.Docker
		if runtime == "containerlab" && im.Run.Containerlab != nil {
			r = im.Run.Containerlab
		}
		if r == nil {
			return "", nil, fmt.Errorf("%s: no run.%s entry", im.Name, runtime)
		}
		image, args = r.Image, r.Command
	default:
		return "", nil, fmt.Errorf("%s: unknown runtime %q (netns, docker or containerlab)", im.Name, runtime)
	}
	argv, err = expand(args, d)
	if err != nil {
		return "", nil, fmt.Errorf("%s: run.%s.command: %w", im.Name, runtime, err)
	}
	return image, argv, nil
}

func expand(args []string, d CommandData) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, a := range args {
		t, err := template.New("arg").Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return nil, err
		}
		out = append(out, b.String())
	}
	return out, nil
}

func names[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
