// Package boundary holds the test that keeps the bench independent of the
// code it judges: no package under suites/, harness/ or pcap/ (tests
// included) may depend, directly or through other packages, on getvpnd's
// role, protocol or crypto packages — gateway/ks, gm, dataplane, gdoi,
// ikev1 and esp. The bench reads the wire with its own expectations; a
// bench that decrypted ESP or computed rekey points with the daemon's code
// would miss every bug the two share.
//
// Allowed: the wire codecs (gateway/wire/...) and the status API client and
// types (gateway/control), which describe formats rather than behaviour.
// The daemon's side may import the bench (gateway/esp's tests use pcap as an
// oracle), never the other way round.
//
// A second test keeps the daemon's own layering: nothing under gateway/
// but gateway/control imports the control API; the roles return snapshots
// (gateway/show) and cmd/getvpnd serves them.
//
// The package has no code besides its tests.
package boundary
