// Package fault injects faults into a running topology: link down/up, MTU
// changes, packet loss, targeted drops and partitions between nodes (network
// faults: link.go, nft.go, partition.go), and process faults on the nodes'
// daemons.
//
// A node's network namespace is named by a path, as everywhere in the
// harness: /run/netns/NAME for the netns runtime, /proc/PID/ns/net for a
// container or any process. Nothing here needs sch_netem or tc actions: loss
// and drops are nftables rules (numgen random / numgen inc) installed through
// netlink, never through the nft binary.
//
// All nftables state lives in one table per namespace, family inet, named
// getlab_fault, created with the first impairment and deleted with the last,
// so a namespace holds nothing of getlab once every impairment is removed.
package fault
