package scale

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The scale suite: a key server under a thousand group members at once,
// played by the GM swarm (cmd/gm-swarm) on topologies/scale.clab.yml, judged
// from the swarm's report and the wire. BenchmarkSwarm (make bench) runs
// the same lab with 8,000 members.
func TestScale(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "scale")
}
