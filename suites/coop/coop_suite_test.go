package coop

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCOOP(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "coop")
}
