// Package strictyaml decodes the bench's own YAML files (scenarios,
// implementation.yaml) strictly: a key the target type does not declare is
// an error naming the file, the key's path and its line, so that a
// misspelt capability is never silently ignored.
package strictyaml

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes data into v (a pointer to a struct). name is the file
// name used in messages. Every unknown key is reported, joined in one
// error; type errors are reported as yaml.v3 words them, prefixed by name.
func Decode(data []byte, name string, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return fmt.Errorf("%s: empty file", name)
	}
	root := doc.Content[0]
	var errs []error
	walk(root, reflect.TypeOf(v), "", func(path string, line int, known []string) {
		errs = append(errs, fmt.Errorf("%s: line %d: unknown key %q (known here: %s)", name, line, path, strings.Join(known, ", ")))
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := root.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk reports every mapping key of n that t has no field for. Types that
// decode themselves (yaml.Unmarshaler, encoding.TextUnmarshaler) are not
// looked into.
func walk(n *yaml.Node, t reflect.Type, path string, unknown func(path string, line int, known []string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error, which Decode reports
		}
		fields := map[string]reflect.Type{}
		var known []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			fields[key] = f.Type
			known = append(known, key)
		}
		slices.Sort(known)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				unknown(join(path, k.Value), k.Line, known)
				continue
			}
			walk(val, ft, join(path, k.Value), unknown)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), unknown)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", unknown)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
