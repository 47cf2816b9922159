package impair

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestImpair(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "impair")
}
