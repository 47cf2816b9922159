package operations

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The operations suite: what an operator of a GETVPN deployment lives by —
// so far GDOI version negotiation (label versions).
func TestOperations(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "operations")
}
