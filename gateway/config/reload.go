package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// What a running key server takes from a reread configuration (getctl
// reload, SIGHUP) and what needs a restart. The policy a group hands out
// (its ACL, transforms, receive-only, deny download) changes the keys'
// selectors and goes out with the next rekey (S0 §3.16.2, KS-71); the
// authorization list, the pre-shared keys (to revoke a GM before a GM
// removal, RK-60 step 1) and the rekey retransmissions apply at once.
// Everything else — addresses, groups, lifetimes, keys, COOP, limits —
// shapes state the daemon made at start and needs a restart.

// groupPolicyFields are a group's fields whose change is a POLICY_CHANGE.
var groupPolicyFields = []string{"ACL", "Transforms", "ReceiveOnly", "DenyDownload"}

// groupLiveFields are a group's other fields a reload applies.
var groupLiveFields = []string{"Authorization"}

// rekeyLiveFields are the group's rekey fields a reload applies.
var rekeyLiveFields = []string{"RetransmitInterval", "RetransmitCount", "RetransmitPeriodic"}

// Reload compares c, the running configuration, with n, the one reread.
// It returns the reloadable changes (as "groups[0].acl") and the groups
// whose policy changed, or an error naming what needs a restart.
func (c *Config) Reload(n *Config) (changes, policyChanged []string, err error) {
	if len(c.Groups) != len(n.Groups) {
		return nil, nil, fmt.Errorf("groups added or removed: restart getvpnd to apply")
	}
	a, b := masked(c), masked(n)
	for i := range c.Groups {
		if c.Groups[i].Name != n.Groups[i].Name {
			return nil, nil, fmt.Errorf("groups[%d] renamed %s to %s: restart getvpnd to apply", i, c.Groups[i].Name, n.Groups[i].Name)
		}
	}
	if diff := differing(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), ""); len(diff) > 0 {
		return nil, nil, fmt.Errorf("%s changed: restart getvpnd to apply (a reload takes a group's acl, transforms, receive_only, deny_download, authorization, rekey.retransmit and ike.pre_shared_keys)", strings.Join(diff, ", "))
	}
	for i := range c.Groups {
		o, g := reflect.ValueOf(c.Groups[i]), reflect.ValueOf(n.Groups[i])
		policy := false
		for _, f := range groupPolicyFields {
			if !reflect.DeepEqual(o.FieldByName(f).Interface(), g.FieldByName(f).Interface()) {
				changes = append(changes, fmt.Sprintf("groups[%d].%s", i, f))
				policy = true
			}
		}
		if policy {
			policyChanged = append(policyChanged, c.Groups[i].Name)
		}
		for _, f := range groupLiveFields {
			if !reflect.DeepEqual(o.FieldByName(f).Interface(), g.FieldByName(f).Interface()) {
				changes = append(changes, fmt.Sprintf("groups[%d].%s", i, f))
			}
		}
		or, gr := reflect.ValueOf(c.Groups[i].Rekey), reflect.ValueOf(n.Groups[i].Rekey)
		for _, f := range rekeyLiveFields {
			if !reflect.DeepEqual(or.FieldByName(f).Interface(), gr.FieldByName(f).Interface()) {
				changes = append(changes, fmt.Sprintf("groups[%d].Rekey.%s", i, f))
			}
		}
	}
	if !reflect.DeepEqual(c.IKE.PreSharedKeys, n.IKE.PreSharedKeys) {
		changes = append(changes, "IKE.PreSharedKeys")
	}
	return changes, policyChanged, nil
}

// masked is a copy of c without what a reload may change, nor the file's
// bookkeeping (which keys it sets, where).
func masked(c *Config) *Config {
	m := *c
	m.set, m.pos = nil, positions{}
	m.IKE.PreSharedKeys = nil
	m.Groups = slices.Clone(c.Groups)
	for i := range m.Groups {
		g := &m.Groups[i]
		v := reflect.ValueOf(g).Elem()
		for _, f := range slices.Concat(groupPolicyFields, groupLiveFields) {
			fv := v.FieldByName(f)
			fv.Set(reflect.Zero(fv.Type()))
		}
		r := reflect.ValueOf(&g.Rekey).Elem()
		for _, f := range rekeyLiveFields {
			fv := r.FieldByName(f)
			fv.Set(reflect.Zero(fv.Type()))
		}
	}
	return &m
}

// differing names the exported fields (one level of nesting for the
// groups) where a and b differ.
func differing(a, b reflect.Value, prefix string) []string {
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		x, y := a.Field(i), b.Field(i)
		if reflect.DeepEqual(x.Interface(), y.Interface()) {
			continue
		}
		if f.Name == "Groups" && prefix == "" {
			for j := range x.Len() {
				out = append(out, differing(x.Index(j), y.Index(j), fmt.Sprintf("groups[%d].", j))...)
			}
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}
