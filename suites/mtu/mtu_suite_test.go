package mtu

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestMTU(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mtu")
}
