package config

import (
	"math"
	"net/netip"
	"strings"

	"github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/gdoi"
	"gopkg.in/yaml.v3"
)

// ksOnly and gmOnly are the group keys each role may set.
var (
	ksOnly = []string{"tek_lifetime", "kek_lifetime", "transforms", "acl", "deny_download", "authorization", "receive_only", "rekey", "coop"}
	gmOnly = []string{"ks_list", "registration_interface", "local_acl", "passive", "jitter"}
)

// decode reads the document into c. Semantic checks that need the whole
// configuration are in validate.go.
func (c *Config) decode(d *decoder, root *yaml.Node) {
	d.set = map[string]bool{}
	c.set = d.set
	role := ""
	d.fields(root, "", map[string]func(*yaml.Node, string){
		"role":           func(n *yaml.Node, p string) { d.str(n, p, &role) },
		"identity":       func(n *yaml.Node, p string) { d.addr(n, p, &c.Identity) },
		"control_socket": func(n *yaml.Node, p string) { d.str(n, p, &c.ControlSocket) },
		"key_log":        func(n *yaml.Node, p string) { d.str(n, p, &c.KeyLog) },
		"state_file":     func(n *yaml.Node, p string) { d.str(n, p, &c.StateFile) },
		"policy_change":  func(n *yaml.Node, p string) { d.str(n, p, &c.PolicyChange) },
		"gdoi_version": func(n *yaml.Node, p string) {
			if v, ok := d.scalar(n, p); ok {
				ver, err := gdoi.ParseVersion(v)
				if err != nil {
					d.errorf(p, "%q is not a GDOI version major.minor.mini (0-255 each)", v)
					return
				}
				c.GDOI.Version = ver
			}
		},
		"gdoi_features": func(n *yaml.Node, p string) {
			c.GDOI.Features = []string{}
			d.list(n, p, func(n *yaml.Node, p string) {
				var f string
				d.str(n, p, &f)
				c.GDOI.Features = append(c.GDOI.Features, f)
			})
		},
		"listen": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"address": func(n *yaml.Node, p string) { d.addr(n, p, &c.Listen.Address) },
				"port":    func(n *yaml.Node, p string) { d.port(n, p, &c.Listen.Port) },
			})
		},
		"log": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"level":      func(n *yaml.Node, p string) { d.str(n, p, &c.Log.Level) },
				"format":     func(n *yaml.Node, p string) { d.str(n, p, &c.Log.Format) },
				"file":       func(n *yaml.Node, p string) { d.str(n, p, &c.Log.File) },
				"rate_limit": func(n *yaml.Node, p string) { d.intField(n, p, 0, 1_000_000, &c.Log.RateLimit) },
			})
		},
		"timers": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"scale": func(n *yaml.Node, p string) { d.float(n, p, &c.Timers.Scale) },
				"clock": func(n *yaml.Node, p string) {
					d.fields(n, p, map[string]func(*yaml.Node, string){
						"offset":    func(n *yaml.Node, p string) { d.signedDuration(n, p, &c.Timers.Clock.Offset) },
						"drift_ppm": func(n *yaml.Node, p string) { d.float(n, p, &c.Timers.Clock.DriftPPM) },
					})
				},
			})
		},
		"ike": func(n *yaml.Node, p string) { c.decodeIKE(d, n, p) },
		"data_plane": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"enabled":            func(n *yaml.Node, p string) { d.boolean(n, p, &c.DataPlane.Enabled) },
				"df_bit":             func(n *yaml.Node, p string) { d.str(n, p, &c.DataPlane.DFBit) },
				"tcp_mss":            func(n *yaml.Node, p string) { d.intField(n, p, math.MinInt32, math.MaxInt32, &c.DataPlane.TCPMSS) }, // validate says the range
				"local_deny_inbound": func(n *yaml.Node, p string) { d.str(n, p, &c.DataPlane.LocalDenyInbound) },
				"queues":             func(n *yaml.Node, p string) { d.intField(n, p, 0, 64, &c.DataPlane.Queues) },
				"table":              func(n *yaml.Node, p string) { d.intField(n, p, 1, 250, &c.DataPlane.Table) },
				"daemon_down":        func(n *yaml.Node, p string) { d.str(n, p, &c.DataPlane.DaemonDown) },
				"fail_close": func(n *yaml.Node, p string) {
					fc := &FailClose{}
					d.fields(n, p, map[string]func(*yaml.Node, string){
						"activate": func(n *yaml.Node, p string) { d.boolean(n, p, &fc.Activate) },
						"acl":      func(n *yaml.Node, p string) { d.acl(n, p, &fc.ACL) },
					})
					c.DataPlane.FailClose = fc
				},
				"multicast": func(n *yaml.Node, p string) {
					d.fields(n, p, map[string]func(*yaml.Node, string){
						"lan": func(n *yaml.Node, p string) {
							d.list(n, p, func(n *yaml.Node, p string) {
								var name string
								d.str(n, p, &name)
								c.DataPlane.Multicast.LAN = append(c.DataPlane.Multicast.LAN, name)
							})
						},
					})
				},
			})
		},
		"groups": func(n *yaml.Node, p string) { c.decodeGroups(d, n, p) },
		"limits": func(n *yaml.Node, p string) { c.decodeLimits(d, n, p) },
	})
	c.Role = Role(role)
}

func (c *Config) decodeIKE(d *decoder, n *yaml.Node, path string) {
	ike := &c.IKE
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"allow_weak_dh": func(n *yaml.Node, p string) { d.boolean(n, p, &ike.AllowWeakDH) },
		"keepalive": func(n *yaml.Node, p string) {
			ka := &ike.Keepalive
			ka.Periodic = true
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"interval": func(n *yaml.Node, p string) { d.duration(n, p, &ka.Interval) },
				"retry":    func(n *yaml.Node, p string) { d.duration(n, p, &ka.Retry) },
				"mode": func(n *yaml.Node, p string) {
					var mode string
					d.str(n, p, &mode)
					switch mode {
					case "periodic":
					case "on-demand":
						ka.Periodic = false
					default:
						d.errorf(p, "%q is not periodic or on-demand", mode)
					}
				},
			})
		},
		"policies": func(n *yaml.Node, p string) {
			d.list(n, p, func(n *yaml.Node, p string) {
				var pol IKEPolicy
				d.fields(n, p, map[string]func(*yaml.Node, string){
					"encryption": func(n *yaml.Node, p string) { d.str(n, p, &pol.Encryption) },
					"hash":       func(n *yaml.Node, p string) { d.str(n, p, &pol.Hash) },
					"dh_group":   func(n *yaml.Node, p string) { d.intField(n, p, 1, 1<<16-1, &pol.DHGroup) },
					"lifetime":   func(n *yaml.Node, p string) { d.duration(n, p, &pol.Lifetime) },
				})
				ike.Policies = append(ike.Policies, pol)
			})
		},
		"pre_shared_keys": func(n *yaml.Node, p string) {
			d.list(n, p, func(n *yaml.Node, p string) {
				var k PSK
				d.fields(n, p, map[string]func(*yaml.Node, string){
					"peer": func(n *yaml.Node, p string) {
						if n.Kind == yaml.ScalarNode && n.Value == "*" {
							k.Wildcard = true
							return
						}
						d.addr(n, p, &k.Peer)
						if k.Peer.IsValid() && k.Peer.IsUnspecified() {
							k.Peer, k.Wildcard = netipZero, true // S0's "address 0.0.0.0"
						}
						k.Peer = k.Peer.Unmap()
					},
					"key":      func(n *yaml.Node, p string) { d.str(n, p, &k.Key) },
					"identity": func(n *yaml.Node, p string) { decodeIdentities(d, n, p, &k.Identities) },
				})
				ike.PreSharedKeys = append(ike.PreSharedKeys, k)
			})
		},
	})
}

func (c *Config) decodeGroups(d *decoder, n *yaml.Node, path string) {
	d.list(n, path, func(n *yaml.Node, p string) {
		var g Group
		d.fields(n, p, map[string]func(*yaml.Node, string){
			"name":            func(n *yaml.Node, p string) { d.str(n, p, &g.Name) },
			"id":              func(n *yaml.Node, p string) { g.ID = uint32(d.int64(n, p, 1, 1<<32-1)) },
			"interop_profile": func(n *yaml.Node, p string) { d.str(n, p, &g.InteropProfile) },
			"tek_lifetime":    func(n *yaml.Node, p string) { d.duration(n, p, &g.TEKLifetime) },
			"kek_lifetime":    func(n *yaml.Node, p string) { d.duration(n, p, &g.KEKLifetime) },
			"transforms": func(n *yaml.Node, p string) {
				d.list(n, p, func(n *yaml.Node, p string) {
					var t esp.Transform
					if d.transform(n, p, &t) {
						g.Transforms = append(g.Transforms, t)
					}
				})
			},
			"acl": func(n *yaml.Node, p string) { d.acl(n, p, &g.ACL) },
			"authorization": func(n *yaml.Node, p string) {
				d.list(n, p, func(n *yaml.Node, p string) {
					var pr = netipPrefixZero
					d.prefix(n, p, &pr)
					if n.Kind == yaml.ScalarNode && n.Value == "any" {
						d.errorf(p, "\"any\" is not allowed here: leave authorization out to allow every GM")
						return
					}
					if pr.IsValid() {
						g.Authorization = append(g.Authorization, pr)
					}
				})
			},
			"rekey": func(n *yaml.Node, p string) { decodeRekey(d, n, p, &g.Rekey) },
			"coop": func(n *yaml.Node, p string) {
				g.COOP = &COOP{}
				decodeCOOP(d, n, p, g.COOP)
			},
			"deny_download":          func(n *yaml.Node, p string) { d.boolean(n, p, &g.DenyDownload) },
			"receive_only":           func(n *yaml.Node, p string) { d.boolean(n, p, &g.ReceiveOnly) },
			"passive":                func(n *yaml.Node, p string) { d.boolean(n, p, &g.Passive) },
			"ks_list":                func(n *yaml.Node, p string) { d.addrList(n, p, &g.KSList) },
			"registration_interface": func(n *yaml.Node, p string) { d.str(n, p, &g.RegistrationInterface) },
			"local_acl":              func(n *yaml.Node, p string) { d.acl(n, p, &g.LocalACL) },
			"jitter":                 func(n *yaml.Node, p string) { d.str(n, p, &g.Jitter) },
		})
		c.Groups = append(c.Groups, g)
	})
}

func decodeRekey(d *decoder, n *yaml.Node, path string, r *Rekey) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"transport":     func(n *yaml.Node, p string) { d.str(n, p, &r.Transport) },
		"ack":           func(n *yaml.Node, p string) { d.str(n, p, &r.Ack) },
		"kek_at_expiry": func(n *yaml.Node, p string) { d.boolean(n, p, &r.KEKAtExpiry) },
		"address":       func(n *yaml.Node, p string) { d.addr(n, p, &r.Address) },
		"port":          func(n *yaml.Node, p string) { d.port(n, p, &r.Port) },
		"retransmit": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"interval": func(n *yaml.Node, p string) { d.duration(n, p, &r.RetransmitInterval) },
				"count":    func(n *yaml.Node, p string) { d.intField(n, p, 0, 10, &r.RetransmitCount) },
				"periodic": func(n *yaml.Node, p string) { d.boolean(n, p, &r.RetransmitPeriodic) },
			})
		},
		"signing_key": func(n *yaml.Node, p string) {
			d.fields(n, p, map[string]func(*yaml.Node, string){
				"file": func(n *yaml.Node, p string) { d.str(n, p, &r.SigningKey.File) },
				"pem":  func(n *yaml.Node, p string) { d.str(n, p, &r.SigningKey.PEM) },
				"bits": func(n *yaml.Node, p string) { d.intField(n, p, 1024, 8192, &r.SigningKey.Bits) },
			})
		},
	})
}

// addrList reads a list of addresses (IPv4-mapped ones unmapped).
func (d *decoder) addrList(n *yaml.Node, path string, dst *[]netip.Addr) {
	d.list(n, path, func(n *yaml.Node, p string) {
		a := netipZero
		d.addr(n, p, &a)
		if a.IsValid() {
			*dst = append(*dst, a.Unmap())
		}
	})
}

func decodeCOOP(d *decoder, n *yaml.Node, path string, c *COOP) {
	d.fields(n, path, map[string]func(*yaml.Node, string){
		"priority":   func(n *yaml.Node, p string) { d.intField(n, p, 1, 255, &c.Priority) },
		"peers":      func(n *yaml.Node, p string) { d.addrList(n, p, &c.Peers) },
		"refresh":    func(n *yaml.Node, p string) { d.duration(n, p, &c.Refresh) },
		"periodic":   func(n *yaml.Node, p string) { d.duration(n, p, &c.Periodic) },
		"retransmit": func(n *yaml.Node, p string) { d.intField(n, p, 1, 10, &c.Retransmit) },
		"takeover":   func(n *yaml.Node, p string) { d.str(n, p, &c.Takeover) },
	})
}

// transform reads an ESP transform name (esp.ParseTransform), reporting
// whether it was one.
func (d *decoder) transform(n *yaml.Node, path string, dst *esp.Transform) bool {
	s, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	t, err := esp.ParseTransform(s)
	if err != nil {
		names := make([]string, 0, 8)
		for _, t := range esp.All() {
			names = append(names, t.String())
		}
		d.errorf(path, "%q is not an ESP transform (one of %s)", s, strings.Join(names, ", "))
		return false
	}
	*dst = t
	return true
}
