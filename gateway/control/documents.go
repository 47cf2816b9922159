package control

import "github.com/getlab/getlab/gateway/show"

// The documents of the control API are the roles' snapshots (package
// state); these names keep the API's clients (getctl, the suites) as they
// were.
type (
	GDOI          = show.GDOI
	DataPlane     = show.DataPlane
	SACounters    = show.SACounters
	GroupStatus   = show.GroupStatus
	KSGroup       = show.KSGroup
	RekeyRound    = show.RekeyRound
	GMGroup       = show.GMGroup
	KEK           = show.KEK
	TEK           = show.TEK
	Member        = show.Member
	IKESA         = show.IKESA
	Event         = show.Event
	COOP          = show.COOP
	COOPPeer      = show.COOPPeer
	Features      = show.Features
	GroupFeatures = show.GroupFeatures
	Device        = show.Device
	RemovalResult = show.RemovalResult
	ReloadResult  = show.ReloadResult
)
