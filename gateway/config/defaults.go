package config

import (
	"cmp"
	"path/filepath"
	"slices"
	"time"

	"github.com/getlab/getlab/gateway/wire/esp"
)

// Defaults are the values Parse fills in for keys the file leaves out. Line
// numbers are those of the S0 seed, ../shared/seeds/000_c5a1520d471a5ba7.txt
// (Cisco GETVPN Design and Implementation Guide).
var Defaults = struct {
	ListenPort     uint16        // UDP 848, the GDOI port (L3717)
	ControlSocket  string        // DESIGN.md "Runtimes" (not in the seeds)
	LogLevel       string        // not in the seeds
	LogFormat      string        // not in the seeds
	LogRateLimit   int           // events per second per name; not in the seeds
	Scale          float64       // DESIGN.md "Time": 1.0
	IKEEncryption  string        // "encr aes 128" (L654-662)
	IKEHash        string        // "hash sha256" (L654-662)
	IKEDHGroup     int           // "group 14" (L654-662)
	KSIKELifetime  time.Duration // 24 h default on the KS (L1968, "lifetime 86400" L1984)
	GMIKELifetime  time.Duration // 1200 s recommended on the GM (L2944-2946, "lifetime 1200" L2958)
	KeepaliveRetry time.Duration // "retry 2-60 s, default 2" (S2 Table 29-2)
	TEKLifetime    time.Duration // "default 3600 seconds" (L2049)
	KEKLifetime    time.Duration // "default of 86400 seconds" (L2336)
	Transform      esp.Transform // "esp-aes esp-sha-hmac" = aes128-sha1 (L936, L2002)
	RekeyTransport string        // multicast is the default (L1033)
	RekeyPort      uint16        // UDP 848 (L3717)
	// Retransmit: "Two retransmissions at 60 second intervals" (L2358-2362);
	// IOS sends none when unconfigured, but every seed config sets it.
	RetransmitInterval time.Duration
	RetransmitCount    int
	SigningKeyBits     int    // "modulus 2048" (L712, L950); C-13 in seed-features.md
	Jitter             string // "new" jitter, §3.6.5.2 L3273-3337 (C-03)
	InteropProfile     string // "rfc": RFC 6407 as IOS and getvpnd write it
	DFBit              string // "crypto ipsec df-bit" default copy (S0 L5901-5903)
	LocalDenyInbound   string // IOS behaviour (GM-42)
	DataPlaneTable     int    // not in the seeds
	DaemonDown         string // not in the seeds: DESIGN.md "Data plane on a GM"
	// COOP: "local priority" 1 (CO-11), retransmit 2 (CO-15; the timers
	// are the constants COOPRefresh and COOPPeriodic); the takeover keeps
	// the keys (C-07, the newer behaviour).
	COOPPriority   int
	COOPRetransmit int
	COOPTakeover   string
}{
	ListenPort:         848,
	ControlSocket:      "/run/getvpnd/control.sock",
	LogLevel:           "info",
	LogFormat:          "text",
	LogRateLimit:       10,
	Scale:              1.0,
	IKEEncryption:      "aes128",
	IKEHash:            "sha256",
	IKEDHGroup:         14,
	KSIKELifetime:      86400 * time.Second,
	GMIKELifetime:      1200 * time.Second,
	KeepaliveRetry:     2 * time.Second,
	TEKLifetime:        3600 * time.Second,
	KEKLifetime:        86400 * time.Second,
	Transform:          esp.Transform{ID: esp.TransformAESCBC, KeyBits: 128, Auth: esp.AuthHMACSHA1},
	RekeyTransport:     "multicast",
	RekeyPort:          848,
	RetransmitInterval: 60 * time.Second,
	RetransmitCount:    2,
	SigningKeyBits:     2048,
	Jitter:             "new",
	InteropProfile:     "rfc",
	DFBit:              "copy",
	LocalDenyInbound:   "ios",
	DataPlaneTable:     200,
	DaemonDown:         "drop",
	COOPPriority:       1,
	COOPRetransmit:     2,
	COOPTakeover:       TakeoverPreserveKeys,
}

// Protocol timers that the configuration does not set (yet) but that every
// role derives from the seeds; each is a protocol-time value, turned into
// wall time by the role's clock (gateway/clock).
const (
	// RolloverWindow: GMs switch to the new TEK when 30 s remain in the old
	// one (L293-295, L2099).
	RolloverWindow = 30 * time.Second
	// IKEBackoff: wait before trying the next KS, "3x 10 sec + 10 sec
	// backoff" (L3342).
	IKEBackoff = 40 * time.Second
	// GDOIBackoffMax: the end-of-list backoff doubles from GDOIBackoffMin
	// up to 480 s (L3344, L4562).
	GDOIBackoffMin = 70 * time.Second
	GDOIBackoffMax = 480 * time.Second
	// COOP timers: primary refresh 20 s (L4017), secondary periodic 30 s
	// (L4038), policy-update batching 5 s (L4082).
	COOPRefresh      = 20 * time.Second
	COOPPeriodic     = 30 * time.Second
	COOPPolicyUpdate = 5 * time.Second
)

func (c *Config) isSet(path string) bool { return c.set[path] }

// applyDefaults fills in what the file leaves out.
func (c *Config) applyDefaults() {
	c.Listen.Port = cmp.Or(c.Listen.Port, Defaults.ListenPort)
	if !c.isSet("control_socket") {
		c.ControlSocket = Defaults.ControlSocket
	}
	if c.Role == RoleKS {
		c.PolicyChange = cmp.Or(c.PolicyChange, PolicyChangeTriggered)
	}
	if c.Role == RoleKS && !c.isSet("state_file") {
		c.StateFile = filepath.Join(filepath.Dir(c.ControlSocket), "ks-state.json")
	}
	switch {
	case c.isSet("gdoi_features"):
	case c.isSet("gdoi_version"):
		// A staged version claims what getvpnd implements up to it.
		c.GDOI.Features = []string{}
		for _, f := range ImplementedFeatures {
			if !c.GDOI.Version.Less(FeatureVersions[f]) {
				c.GDOI.Features = append(c.GDOI.Features, f)
			}
		}
	default:
		c.GDOI.Features = slices.Clone(ImplementedFeatures)
	}
	if !c.isSet("gdoi_version") {
		c.GDOI.Major, c.GDOI.Minor, c.GDOI.Mini = 1, 0, 3
	}
	c.Log.Level = cmp.Or(c.Log.Level, Defaults.LogLevel)
	c.Log.Format = cmp.Or(c.Log.Format, Defaults.LogFormat)
	if !c.isSet("log.rate_limit") {
		c.Log.RateLimit = Defaults.LogRateLimit
	}
	if !c.isSet("timers.scale") {
		c.Timers.Scale = Defaults.Scale
	}
	if c.Role == RoleGM {
		dp := &c.DataPlane
		if !c.isSet("data_plane.enabled") {
			dp.Enabled = true
		}
		dp.DFBit = cmp.Or(dp.DFBit, Defaults.DFBit)
		dp.LocalDenyInbound = cmp.Or(dp.LocalDenyInbound, Defaults.LocalDenyInbound)
		dp.Table = cmp.Or(dp.Table, Defaults.DataPlaneTable)
		dp.DaemonDown = cmp.Or(dp.DaemonDown, Defaults.DaemonDown)
	}
	c.applyLimitDefaults()
	ikeLife := Defaults.KSIKELifetime
	if c.Role == RoleGM {
		ikeLife = Defaults.GMIKELifetime
	}
	if len(c.IKE.Policies) == 0 {
		c.IKE.Policies = []IKEPolicy{{}}
	}
	if ka := &c.IKE.Keepalive; ka.Interval > 0 && ka.Retry == 0 {
		ka.Retry = Defaults.KeepaliveRetry
	}
	for i := range c.IKE.Policies {
		p := &c.IKE.Policies[i]
		p.Encryption = cmp.Or(p.Encryption, Defaults.IKEEncryption)
		p.Hash = cmp.Or(p.Hash, Defaults.IKEHash)
		p.DHGroup = cmp.Or(p.DHGroup, Defaults.IKEDHGroup)
		p.Lifetime = cmp.Or(p.Lifetime, ikeLife)
	}
	for i := range c.Groups {
		g := &c.Groups[i]
		g.InteropProfile = cmp.Or(g.InteropProfile, Defaults.InteropProfile)
		switch c.Role {
		case RoleKS:
			g.TEKLifetime = cmp.Or(g.TEKLifetime, Defaults.TEKLifetime)
			g.KEKLifetime = cmp.Or(g.KEKLifetime, Defaults.KEKLifetime)
			if len(g.Transforms) == 0 && !c.isSet(index("groups", i)+".transforms") {
				g.Transforms = []esp.Transform{Defaults.Transform}
			}
			r := &g.Rekey
			r.Transport = cmp.Or(r.Transport, Defaults.RekeyTransport)
			if r.Port == 0 && r.Transport == "multicast" {
				r.Port = Defaults.RekeyPort
			}
			if r.Ack == "" {
				// Retransmissions to the GMs that did not acknowledge need
				// acknowledgements; multicast ones are blind.
				r.Ack = AckNone
				if r.Transport == "unicast" {
					r.Ack = AckSHA256
				}
			}
			r.RetransmitInterval = cmp.Or(r.RetransmitInterval, Defaults.RetransmitInterval)
			if !c.isSet(index("groups", i) + ".rekey.retransmit.count") {
				r.RetransmitCount = Defaults.RetransmitCount
			}
			if co := g.COOP; co != nil {
				co.Priority = cmp.Or(co.Priority, Defaults.COOPPriority)
				co.Refresh = cmp.Or(co.Refresh, COOPRefresh)
				co.Periodic = cmp.Or(co.Periodic, COOPPeriodic)
				co.Retransmit = cmp.Or(co.Retransmit, Defaults.COOPRetransmit)
				co.Takeover = cmp.Or(co.Takeover, Defaults.COOPTakeover)
			}
			if r.SigningKey.File == "" && r.SigningKey.PEM == "" && r.SigningKey.Bits == 0 {
				r.SigningKey.Bits = Defaults.SigningKeyBits
			}
			if !c.isSet(index("groups", i) + ".deny_download") {
				g.DenyDownload = true
			}
		case RoleGM:
			g.Jitter = cmp.Or(g.Jitter, Defaults.Jitter)
		}
	}
}
