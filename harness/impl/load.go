package impl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/getlab/getlab/harness/strictyaml"
)

// FileName is the name of an implementation's description.
const FileName = "implementation.yaml"

// Registry holds the implementations found under one directory.
type Registry struct {
	impls map[string]*Impl
}

// Load reads every dir/*/implementation.yaml. Every problem of every file
// is reported, joined, each naming the file.
func Load(dir string) (*Registry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", FileName))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("impl: no */%s under %s", FileName, dir)
	}
	sort.Strings(paths)
	r := &Registry{impls: map[string]*Impl{}}
	var errs []error
	for _, p := range paths {
		im, err := LoadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.impls[im.Name] = im
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// DefaultDir is images/ at the root of the source tree around the working
// directory.
func DefaultDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "images"), nil
		}
		if d == filepath.Dir(d) {
			return "", errors.New("impl: no go.mod above " + wd)
		}
	}
}

// Get returns the implementation called name.
func (r *Registry) Get(name string) (*Impl, error) {
	if im, ok := r.impls[name]; ok {
		return im, nil
	}
	return nil, fmt.Errorf("impl: no implementation %q (registered: %s)", name, strings.Join(r.Names(), ", "))
}

// Names returns the registered implementations' names, sorted.
func (r *Registry) Names() []string {
	var out []string
	for n := range r.impls {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// LoadFile reads one implementation.yaml and the templates it names.
func LoadFile(path string) (*Impl, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("impl: %w", err)
	}
	dir := filepath.Dir(path)
	name := filepath.Join(filepath.Base(dir), FileName)
	im := &Impl{Dir: dir, templates: map[Role]*template.Template{}}
	if err := strictyaml.Decode(data, name, &im.file); err != nil {
		return nil, err
	}
	im.Name = im.file.Name
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	switch {
	case im.Name == "":
		bad("name", "missing")
	case im.Name != filepath.Base(dir):
		bad("name", "%q differs from its directory %q", im.Name, filepath.Base(dir))
	}
	if len(im.Roles) == 0 {
		bad("roles", "missing (%s)", names(roles))
	}
	for i, r := range im.Roles {
		if !slices.Contains(roles, r) {
			bad(fmt.Sprintf("roles[%d]", i), "%q is not a role (%s)", r, names(roles))
		} else if slices.Index(im.Roles, r) != i {
			bad(fmt.Sprintf("roles[%d]", i), "%q is listed twice", r)
		}
	}
	// Runtimes.
	if im.Run.NetNS == nil && im.Run.Docker == nil && im.Run.Containerlab == nil {
		bad("run", "missing: say how it runs (netns, docker, containerlab)")
	}
	sample := CommandData{Config: "/c", Bin: "/b", Node: "n", Role: KS}
	if r := im.Run.NetNS; r != nil {
		if len(r.Command) == 0 {
			bad("run.netns.command", "missing")
		} else if _, err := expand(r.Command, sample); err != nil {
			bad("run.netns.command", "%v", err)
		}
	}
	for key, r := range map[string]*ImageRun{"run.docker": im.Run.Docker, "run.containerlab": im.Run.Containerlab} {
		if r == nil {
			continue
		}
		if r.Image == "" {
			bad(key+".image", "missing")
		}
		if _, err := expand(r.Command, sample); err != nil {
			bad(key+".command", "%v", err)
		}
	}
	// Config and templates.
	if im.Config.Path == "" || !filepath.IsAbs(im.Config.Path) {
		bad("config.path", "%q: the rendered config's absolute path in the node", im.Config.Path)
	}
	for _, r := range im.Roles {
		if _, ok := im.Config.Templates[r]; !ok && r != COOPKS {
			bad("config.templates", "no template for role %s", r)
		}
	}
	for r, f := range im.Config.Templates {
		key := "config.templates." + string(r)
		if !im.Plays(r) {
			bad(key, "role %s is not in roles", r)
			continue
		}
		if f == "" || filepath.IsAbs(f) || strings.Contains(f, "..") {
			bad(key, "%q: a file name beside %s", f, FileName)
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			bad(key, "%v", err)
			continue
		}
		t, err := template.New(f).Option("missingkey=error").Funcs(funcs).Parse(string(src))
		if err != nil {
			bad(key, "%v", err)
			continue
		}
		im.templates[r] = t
	}
	// Readiness.
	for r, x := range im.Readiness {
		key := "readiness." + string(r)
		if !im.Plays(r) {
			bad(key, "role %s is not in roles", r)
		}
		n := 0
		for _, set := range []bool{x.UDP != 0, len(x.Command) > 0, x.Started} {
			if set {
				n++
			}
		}
		if n != 1 {
			bad(key, "set exactly one of udp, command, started")
		}
	}
	// Capabilities.
	c := &im.Caps
	if t := c.TimerScale; t != nil && !(t.Floor > 0 && t.Floor <= 1) {
		bad("capabilities.timer-scale.floor", "%v: the smallest scale it runs at, in (0, 1]", t.Floor)
	}
	if k := c.KeyLog; k != nil {
		if !filepath.IsAbs(k.Path) {
			bad("capabilities.keylog.path", "%q: the key log's absolute path in the node", k.Path)
		}
		if k.Format != KeyLogFormat {
			bad("capabilities.keylog.format", "%q: the bench reads %q", k.Format, KeyLogFormat)
		}
	}
	if s := c.Status; s != nil && len(s.Command) == 0 {
		bad("capabilities.status.command", "missing")
	}
	if r := c.TriggeredRekey; r != nil && (len(r.Command) == 0 || len(r.ReplaceNow) == 0) {
		bad("capabilities.triggered-rekey", "needs command and replace-now")
	}
	if r := c.GMRemoval; r != nil && (len(r.Command) == 0 || len(r.Now) == 0) {
		bad("capabilities.gm-removal", "needs command and now")
	}
	for key, cmd := range map[string]*[]string{
		"capabilities.clear.command":        commandOf(c.Clear),
		"capabilities.gm-clear.command":     commandOf(c.GMClear),
		"capabilities.sa-direction.command": commandOf(c.SADirection),
		"capabilities.reload.command":       commandOf(c.Reload),
	} {
		if cmd != nil && len(*cmd) == 0 {
			bad(key, "missing")
		}
	}
	for i, a := range c.Acks {
		if a != "rfc8263-sha256" && a != "rfc8263-sha512" {
			bad(fmt.Sprintf("capabilities.acks[%d]", i), "%q is not rfc8263-sha256 or rfc8263-sha512", a)
		}
	}
	for i, p := range c.InteropProfiles {
		if p == "" {
			bad(fmt.Sprintf("capabilities.interop-profiles[%d]", i), "empty")
		}
	}
	if im.Minimums.TEKLifetime < 0 {
		bad("minimums.tek_lifetime", "%d is negative", im.Minimums.TEKLifetime)
	}
	if im.Minimums.KEKLifetime < 0 {
		bad("minimums.kek_lifetime", "%d is negative", im.Minimums.KEKLifetime)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return im, nil
}

// commandOf is a command capability's command, nil when the capability
// is absent.
func commandOf(c *CommandCap) *[]string {
	if c == nil {
		return nil
	}
	return &c.Command
}
