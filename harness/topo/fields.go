package topo

// The field names containerlab knows, taken from its topology schema
// (shared/containerlab/clab.schema.json). They let an error tell a field
// containerlab knows but getlab does not run apart from a field nobody knows
// (a typo). TestFieldListsMatchSchema keeps them in step with the schema.

// topLevelFields are the keys of the file itself.
var topLevelFields = []string{"name", "prefix", "mgmt", "topology", "settings", "debug"}

// topologyFields are the keys of the topology section.
var topologyFields = []string{"nodes", "groups", "kinds", "defaults", "links"}

// nodeFields are the keys of a node, and of the defaults and kinds sections
// (definitions/node-config/properties in the schema).
var nodeFields = []string{
	"image", "image-pull-policy", "restart-policy", "kind", "license", "type",
	"group", "startup-config", "startup-delay", "enforce-startup-config",
	"suppress-startup-config", "auto-remove", "exec", "binds", "volumes",
	"ports", "env", "credentials", "env-files", "user", "hostname",
	"entrypoint", "cmd", "labels", "runtime", "mgmt-ipv4", "mgmt-ipv6",
	"network-mode", "link-apply-mode", "cpu", "memory", "cpu-set", "extras",
	"config", "stages", "dns", "certificate", "healthcheck", "components",
	"aliases", "shm-size", "cap-add", "privileged", "cgroupns-mode",
	"cgroup-parent", "pid-mode", "tmpfs", "security-opts", "sysctls", "devices",
}

// mgmtFields are the keys of the top-level mgmt section.
var mgmtFields = []string{
	"network", "bridge", "ipv4-subnet", "ipv6-subnet", "ipv4-gw", "ipv6-gw",
	"ipv4-range", "ipv6-range", "mtu", "external-access", "skip-when-unused",
	"driver-opts",
}

// linkFields are the keys of a link, over every link type the schema has.
var linkFields = []string{
	"type", "endpoints", "endpoint", "mtu", "ipv4", "ipv6", "vars", "labels",
	"host-interface", "mode", "remote", "vni", "dst-port", "src-port",
}

// linkTypes are the values of a link's type field.
var linkTypes = []string{
	"veth", "veth-stitch", "mgmt-net", "macvlan", "host", "vxlan",
	"vxlan-stitch", "dummy",
}

// endpointFields are the keys of an endpoint of an extended (type: veth) link.
var endpointFields = []string{"node", "interface", "mac", "ipv4", "ipv6", "vars"}

// Hints added to "not supported by getlab" for fields a reader may expect to
// work, saying what getlab does instead.
var unsupportedHints = map[string]string{
	"prefix":     "getlab names nodes by their topology names",
	"mgmt":       "getlab builds no management network; data links are the only links",
	"groups":     "set shared values in topology.defaults or topology.kinds",
	"group":      "set shared values in topology.defaults or topology.kinds",
	"ports":      "nodes are reached through their namespaces, not published ports",
	"mgmt-ipv4":  "getlab builds no management network",
	"mgmt-ipv6":  "getlab builds no management network",
	"env-files":  "set the variables with env",
	"entrypoint": "use cmd",
	"ipv4":       "assign addresses with exec (ip addr add ...) or in the daemon config",
	"ipv6":       "assign addresses with exec (ip addr add ...) or in the daemon config",
	"mac":        "set the address with exec (ip link set ... address ...)",
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the entry of list closest to s when it is a plausible typo
// of it, or "".
func suggest(s string, list []string) string {
	best, bestD := "", 3
	for _, c := range list {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes. Inputs are
// short field names; long inputs are cut off so a huge key costs nothing.
func editDistance(a, b string) int {
	const max = 64
	if len(a) > max {
		a = a[:max]
	}
	if len(b) > max {
		b = b[:max]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
