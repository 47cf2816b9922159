package rekey

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRekey(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rekey")
}
