package dataplane

import (
	"strconv"

	"github.com/getlab/getlab/gateway/show"
)

// Counters returns every verdict counter by name.
func (e *Engine) Counters() map[string]uint64 {
	m := make(map[string]uint64, numCounters)
	for c := range numCounters {
		m[counterNames[c]] = e.counters[c].Load()
	}
	return m
}

// Decorate adds the data plane's view to a GM's GET /v1/gdoi document: the
// data plane section (dp, filled in by the caller with the device), each
// TEK's counters, and each group's local ACL.
func (e *Engine) Decorate(st *show.GDOI, dp show.DataPlane) {
	dp.Counters = e.Counters()
	dp.WANMTU = e.MTU()
	dp.DFBit = e.opt.DF.String()
	dp.LocalDenyInbound = e.opt.LocalDenyInbound
	dp.FailClose = "off"
	if fc := e.opt.FailClose; fc != nil {
		dp.FailClose = "inactive"
		if fc.Activate {
			dp.FailClose = "removed"
			if e.FailCloseArmed() {
				dp.FailClose = "armed"
			}
		}
		for _, ace := range fc.ACL {
			dp.FailCloseACL = append(dp.FailCloseACL, ace.String())
		}
	}
	st.DataPlane = &dp
	cur := e.state.Load()
	for i := range st.Groups {
		g := &st.Groups[i]
		for _, cg := range e.opt.Groups {
			if cg.Name == g.Name {
				for _, ace := range cg.LocalACL {
					g.LocalACL = append(g.LocalACL, ace.String())
				}
			}
		}
		for j := range g.TEKs {
			spi, err := strconv.ParseUint(g.TEKs[j].SPI, 0, 32)
			if err != nil {
				continue
			}
			if sa := cur.bySPI[uint32(spi)]; sa != nil {
				g.TEKs[j].Counters = sa.counters()
			}
		}
	}
}

func (sa *SA) counters() *show.SACounters {
	return &show.SACounters{
		Send: sa.send, NoSendReason: sa.noSend,
		EncryptedPackets: sa.encPackets.Load(), EncryptedBytes: sa.encBytes.Load(),
		DecryptedPackets: sa.decPackets.Load(), DecryptedBytes: sa.decBytes.Load(),
		AuthFailures: sa.authFailures.Load(), PolicyDrops: sa.policyDrops.Load(),
	}
}
