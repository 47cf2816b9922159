package modes

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The modes suite: a group member's modes judged from the wire and its
// status — fail-close before its first registration and after a clear
// (GM-51, GM-52), the IPsec SA directions of S0 Table 5 (GM-60 to GM-64):
// the receive-only migration a key server drives through inbound-optional
// to both (GM-62, OP-11), a passive GM beside a conformant one, and an
// operator's local direction until the next rekey (GM-63).
func TestModes(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "modes")
}
