// Package bundle turns a failed spec into one archive anyone can replay,
// and reads it back: `getlab bundle` writes it, `getlab repro` unpacks it,
// runs the spec again and compares the failures.
//
// A bundle is a gzipped tar with one top folder holding:
//
//	manifest.json   what failed, where, with what (Manifest)
//	report.json     the run's Ginkgo JSON report cut to the spec's suite and the spec
//	                (with the specs of its Ordered container that ran before it)
//	probe.json      the capability probe of the machine that ran it (harness/probe)
//	README.txt      how to replay it
//	<folder>/       the spec's artifact folder as the suites left it: capture.pcapng,
//	                keys.log, lab.json, topology/ (the topology and configs as run),
//	                per node its log, state.txt, control-socket state, and per
//	                impairment wire wire-rules.json, wire-stats.json, decisions.jsonl
//
// report.json and the folder are laid out as `getlab report` reads a run,
// so `getlab report <unpacked>` writes the spec's HTML page too.
package bundle

import (
	"time"

	"github.com/getlab/getlab/harness/probe"
)

// Format names the bundle layout; a reader refuses another.
const Format = "getlab-bundle/1"

// The report entries and variables the suites (suitekit) and the bundle
// share: suitekit writes the entries and honours the variables.
const (
	// EnvironmentEntry is every spec's record of the run's GETLAB_
	// variables (a JSON object of name → value).
	EnvironmentEntry = "getlab environment"
	// KeptLabEntry names a lab GETLAB_KEEP left up.
	KeptLabEntry = "kept lab"
	// KeepEnv, set to 1, leaves the labs of a run up (detached).
	KeepEnv = "GETLAB_KEEP"
	// FailSpecEnv fails the specs whose full text contains it, on purpose.
	FailSpecEnv = "GETLAB_FAIL_SPEC"
)

// Manifest is manifest.json: the failed spec and everything about the run
// a replay needs to know or set again.
type Manifest struct {
	Format  string    `json:"format"`
	Created time.Time `json:"created"`
	Spec    Spec      `json:"spec"`
	// Implementations are the KS and GM under test.
	Implementations Implementations `json:"implementations"`
	// Environment is what a replay sets: GETLAB_KS, GETLAB_GM,
	// GETLAB_RUNTIME and, for a forced failure, GETLAB_FAIL_SPEC.
	Environment map[string]string `json:"environment"`
	// Getvpnd is `bin/getvpnd --version`.
	Getvpnd string `json:"getvpnd_version,omitempty"`
	Git     Git    `json:"git"`
	// Images are the project's image IDs (docker image inspect), where a
	// Docker engine has them.
	Images map[string]string `json:"images,omitempty"`
	// Probe is the capability probe of the machine (also probe.json).
	Probe probe.Result `json:"probe"`
	// Artifacts is the spec's artifact folder in the bundle ("" if the
	// run left none).
	Artifacts string `json:"artifacts,omitempty"`
	// Topology lists the topology file and configs as run, paths in the
	// bundle.
	Topology []string `json:"topology,omitempty"`
	// Impairment is each impairment wire's schedule: the rules and seed
	// the spec set last, and what they decided.
	Impairment []Wire `json:"impairment,omitempty"`
	// Replay says how `getlab repro` runs the spec again and why the
	// impairment schedule replays.
	Replay string `json:"replay"`
	// Files lists every file of the bundle but the manifest.
	Files []File `json:"files"`
}

// Spec is the failed spec.
type Spec struct {
	// FullText is its container texts and its own, as `getlab report`
	// prints it.
	FullText string `json:"full_text"`
	// Suite is the suite's description; Package its Go package as the
	// ginkgo command takes it (./suites/impair).
	Suite   string `json:"suite"`
	Package string `json:"package"`
	// Focus is a --focus regexp matching this spec alone; ReplayFocus
	// also matches the specs of its Ordered container that ran before it
	// in the run (listed in Before), whose state it may depend on. ""
	// for a failed setup node (a BeforeSuite), which runs with the
	// suite's first spec.
	Focus       string   `json:"focus"`
	ReplayFocus string   `json:"replay_focus"`
	Before      []string `json:"ordered_before,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	State       string   `json:"state"`
	// Location is where the spec is written (module-relative file:line).
	Location string        `json:"location"`
	RunTime  time.Duration `json:"run_time"`
	Failure  *Failure      `json:"failure,omitempty"`
}

// Failure is how a spec failed.
type Failure struct {
	Message string `json:"message"`
	// Location is module-relative file:line of the failing line.
	Location string `json:"location"`
	// NodeType is the node that failed: It, BeforeAll, AfterEach, ...
	NodeType       string `json:"node_type"`
	ForwardedPanic string `json:"forwarded_panic,omitempty"`
}

// Implementations are the KS and GM a spec judged.
type Implementations struct {
	KS string `json:"ks"`
	GM string `json:"gm"`
	// Entry is the spec's "implementations" report entry, when it has one
	// ("KS getvpnd, GM getvpnd, timer scale 0.1").
	Entry string `json:"entry,omitempty"`
	// From says where KS and GM were read: "environment entry" (the
	// run's GETLAB_KS/GETLAB_GM as the spec recorded them),
	// "implementations entry", "getlab's environment" or "default".
	From string `json:"from"`
}

// Git is the source tree's commit.
type Git struct {
	Commit string `json:"commit,omitempty"`
	// Dirty: the tree had changes not committed, which the commit alone
	// does not reproduce.
	Dirty bool `json:"dirty,omitempty"`
}

// Wire is one impairment wire's schedule, as its node's artifacts hold it.
type Wire struct {
	Node string `json:"node"`
	// Seed is the seed of the rules in force at the end (0 when the
	// rules could not be read).
	Seed uint64 `json:"seed"`
	// RuleCount is how many rules were in force (0: the wire only
	// forwarded).
	RuleCount int    `json:"rule_count"`
	Rules     string `json:"rules"`               // wire-rules.json in the bundle
	Decisions string `json:"decisions,omitempty"` // decisions.jsonl in the bundle
}

// File is one file of the bundle.
type File struct {
	Path   string `json:"path"` // under the bundle's top folder, slash-separated
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}
