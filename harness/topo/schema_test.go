package topo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getlab/getlab/harness/testbuild"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaPath returns containerlab's schema from the shared directory
// (GETLAB_SHARED, else ../shared beside the repository), or skips the test.
func schemaPath(t *testing.T) string {
	t.Helper()
	return testbuild.Shared(t, "containerlab/clab.schema.json")
}

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

// yamlToJSON turns a YAML document into the values encoding/json produces,
// which is what the schema validator expects.
func yamlToJSON(data []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	v, err := jsonCompatible(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func jsonCompatible(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, x := range v {
			c, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	}
	return v, nil
}

// topologyFiles returns the repository's topology files and this package's
// valid test topologies.
func topologyFiles(t *testing.T) (repo, valid []string) {
	t.Helper()
	dir := filepath.Join(testbuild.Root(t), "topologies")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".clab.yml") || strings.HasSuffix(p, ".clab.yaml")) {
			repo = append(repo, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	valid, err = filepath.Glob(filepath.Join("testdata", "valid", "*.clab.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(repo) == 0 {
		t.Errorf("no topology files (*.clab.yml) under %s", dir)
	}
	if len(valid) == 0 {
		t.Errorf("no topology files under testdata/valid")
	}
	return repo, valid
}

// TestTopologyFilesLoad loads every topology file of the repository and
// every valid test topology.
func TestTopologyFilesLoad(t *testing.T) {
	repo, valid := topologyFiles(t)
	for _, f := range append(repo, valid...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestTopologyFilesSchema validates every topology file of the repository,
// and every valid test topology, against containerlab's schema, so a user
// with containerlab can deploy them; and checks that they load.
func TestTopologyFilesSchema(t *testing.T) {
	sch := compileSchema(t, schemaPath(t))
	repo, valid := topologyFiles(t)
	for _, f := range append(repo, valid...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := yamlToJSON(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := sch.Validate(doc); err != nil {
				t.Errorf("%s does not follow containerlab's schema:\n%v", f, err)
			}
			if _, err := Load(f); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestSchemaRejects makes sure the schema check can fail: containerlab's
// schema must reject files that are obviously wrong.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t, schemaPath(t))
	bad := map[string]string{
		"no name":            "topology: {nodes: {a: {kind: linux, image: x}}}\n",
		"unknown node field": "name: x\ntopology: {nodes: {a: {kind: linux, image: x, colour: blue}}}\n",
		"unknown kind":       "name: x\ntopology: {nodes: {a: {kind: toaster, image: x}}}\n",
		"unknown top field":  "name: x\ntopolgy: {nodes: {a: {kind: linux}}}\n",
		"mtu not a number":   "name: x\ntopology:\n  nodes: {a: {kind: linux}, b: {kind: linux}}\n  links: [{endpoints: [\"a:eth1\", \"b:eth1\"], mtu: big}]\n",
		"binds not a list":   "name: x\ntopology: {nodes: {a: {kind: linux, binds: \"a:/a\"}}}\n",
	}
	for name, src := range bad {
		doc, err := yamlToJSON([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := sch.Validate(doc); err == nil {
			t.Errorf("%s: the schema accepted\n%s", name, src)
		}
	}
}

// TestFieldListsMatchSchema keeps the field lists in fields.go in step with
// containerlab's schema, so that "not supported" and "not a containerlab
// field" stay told apart correctly.
func TestFieldListsMatchSchema(t *testing.T) {
	data, err := os.ReadFile(schemaPath(t))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties  map[string]json.RawMessage `json:"properties"`
		Definitions map[string]struct {
			Properties map[string]struct {
				Const string `json:"const"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	var topo struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(s.Properties["topology"], &topo); err != nil {
		t.Fatal(err)
	}
	check := func(what string, ours []string, theirs map[string]bool) {
		var missing, extra []string
		for k := range theirs {
			if !contains(ours, k) {
				missing = append(missing, k)
			}
		}
		for _, k := range ours {
			if !theirs[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%s: the schema has %v that fields.go lacks; fields.go has %v that the schema lacks", what, missing, extra)
		}
	}
	keys := func(m map[string]json.RawMessage) map[string]bool {
		out := map[string]bool{}
		for k := range m {
			out[k] = true
		}
		return out
	}
	check("top-level fields", topLevelFields, keys(s.Properties))
	var mgmt struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(s.Properties["mgmt"], &mgmt); err != nil {
		t.Fatal(err)
	}
	check("mgmt fields", mgmtFields, keys(mgmt.Properties))
	check("topology fields", topologyFields, keys(topo.Properties))

	node := map[string]bool{}
	for k := range s.Definitions["node-config"].Properties {
		node[k] = true
	}
	check("node fields", nodeFields, node)

	link, types := map[string]bool{}, map[string]bool{}
	for name, def := range s.Definitions {
		if name != "link-config-short" && !strings.HasPrefix(name, "link-type-") {
			continue
		}
		for k, p := range def.Properties {
			link[k] = true
			if k == "type" && p.Const != "" {
				types[p.Const] = true
			}
		}
	}
	check("link fields", linkFields, link)
	check("link types", linkTypes, types)

	ep := map[string]bool{}
	for k := range s.Definitions["link-endpoint"].Properties {
		ep[k] = true
	}
	check("endpoint fields", endpointFields, ep)
}
