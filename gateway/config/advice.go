package config

import (
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// minPSKOctets is the shortest pre-shared key that does not draw a
// warning. A PSK main mode exchange, seen once on the wire, lets an
// attacker test guesses offline at leisure: a short key falls quickly.
const minPSKOctets = 8

// advisePSKs warns about pre-shared keys that make IKE authentication
// impossible or weak.
func (v *validator) advisePSKs() {
	c := v.c
	if c.Role == RoleKS && len(c.IKE.PreSharedKeys) == 0 {
		v.warnf("ike.pre_shared_keys", "none: no GM can authenticate to this KS (phase 1 authenticates by pre-shared key)")
	}
	for i, k := range c.IKE.PreSharedKeys {
		if k.Key != "" && len(k.Key) < minPSKOctets {
			v.warnf(index("ike.pre_shared_keys", i)+".key", "%d octets: a pre-shared key this short can be guessed offline from one captured main mode; use at least %d (a long random string)", len(k.Key), minPSKOctets)
		}
	}
}

// fileWarnings checks the files the configuration names, as they are on
// the machine `getvpnd --check` runs on (the daemon's node may see other
// files, so these are warnings, not errors): a KS refuses to start when a
// group's rekey signing key file cannot be read or holds no private key in
// PEM. It never generates one in its place: a new key would not verify the
// rekeys of the key the GMs hold.
func (c *Config) fileWarnings() []string {
	var ws []string
	if c.Role != RoleKS {
		return nil
	}
	for i, g := range c.Groups {
		f := g.Rekey.SigningKey.File
		if f == "" {
			continue
		}
		path := index("groups", i) + ".rekey.signing_key.file"
		warn := func(format string, args ...any) {
			ws = append(ws, fmt.Sprintf("%s: %s: %s: the KS will not start%s", c.Name, path, fmt.Sprintf(format, args...), c.pos.at(path)))
		}
		data, err := os.ReadFile(f)
		if err != nil {
			warn("%v", err)
			continue
		}
		if blk, _ := pem.Decode(data); blk == nil || !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			warn("%s holds no PEM private key", f)
		}
	}
	return ws
}
