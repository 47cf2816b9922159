package netns

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// List returns the labs that have a state file under the lab root, oldest
// first.
func List(opts Options) ([]*Lab, error) {
	opts = withDefaults(opts)
	dirs, err := filepath.Glob(filepath.Join(opts.LabRoot, Prefix+"*"))
	if err != nil {
		return nil, err
	}
	var labs []*Lab
	for _, d := range dirs {
		if l, err := openDir(d, opts); err == nil {
			labs = append(labs, l)
		}
	}
	sort.Slice(labs, func(i, j int) bool { return labs[i].Created.Before(labs[j].Created) })
	return labs, nil
}

// DestroyAll removes every getlab lab on this machine: the labs with a state
// file, and any namespace or lab directory carrying the prefix that no state
// file accounts for (left by a crash between steps). It returns the IDs it
// removed.
func DestroyAll(opts Options) ([]string, error) {
	return sweep(opts, true, func(*Lab) bool { return true })
}

// DestroyStale removes the labs whose deploying process has died without
// destroying them, except detached ones (`getlab up`). Suites call it at
// start so a crashed run leaves nothing behind for long, without touching a
// lab that a parallel run is using. Unlike DestroyAll it leaves namespaces
// without a state file alone: they may belong to a run using another lab root.
func DestroyStale(opts Options) ([]string, error) {
	return sweep(opts, false, func(l *Lab) bool { return !l.Detached && !l.ownerAlive() })
}

func sweep(opts Options, orphansToo bool, remove func(*Lab) bool) ([]string, error) {
	opts = withDefaults(opts)
	labs, err := List(opts)
	if err != nil {
		return nil, err
	}
	var (
		removed []string
		errs    []error
		known   = map[string]bool{}
	)
	for _, l := range labs {
		known[l.ID] = true
		if !remove(l) {
			continue
		}
		if err := l.Destroy(); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, l.ID)
	}
	if !orphansToo {
		sort.Strings(removed)
		return removed, errors.Join(errs...)
	}
	// Orphans: namespaces and directories of labs with no readable state.
	orphans := map[string]bool{}
	if entries, err := os.ReadDir(nsDir); err == nil {
		for _, e := range entries {
			if id := labID(e.Name()); id != "" && !known[id] {
				orphans[id] = true
				if err := removeNamespace(filepath.Join(nsDir, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if dirs, err := filepath.Glob(filepath.Join(opts.LabRoot, Prefix+"*")); err == nil {
		for _, d := range dirs {
			if id := filepath.Base(d); !known[id] {
				orphans[id] = true
				errs = append(errs, os.RemoveAll(d))
			}
		}
	}
	if opts.Containers != nil {
		// Containers of labs whose state is gone (a crash mid-deploy).
		errs = append(errs, opts.Containers.RemoveLab(context.Background(), ""))
	}
	for id := range orphans {
		removed = append(removed, id)
	}
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

// labID extracts "getlab-3fa9c1" from a namespace name "getlab-3fa9c1-gm1".
func labID(name string) string {
	if !strings.HasPrefix(name, Prefix) {
		return ""
	}
	rest := name[len(Prefix):]
	i := strings.IndexByte(rest, '-')
	if i != 6 {
		return ""
	}
	return Prefix + rest[:i]
}
