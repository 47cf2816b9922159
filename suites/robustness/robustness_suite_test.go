package robustness

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRobustness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "robustness")
}
