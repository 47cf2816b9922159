package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Positions: every error and warning about a field ends with the line and
// column of that field in the file ("(line 7, column 5)"), or of the
// closest enclosing one when the field is missing, so that an operator
// finds it without counting list items.

// position is where a key or list item starts in the file (1-based).
type position struct{ line, column int }

// positions maps field paths ("groups[0].ks_list[1]") to where they are.
type positions map[string]position

// at returns " (line L, column C)" for path or its closest ancestor that
// the file has, "" if none.
func (ps positions) at(path string) string {
	for path != "" {
		if p, ok := ps[path]; ok {
			return fmt.Sprintf(" (line %d, column %d)", p.line, p.column)
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return ""
}

// yamlLine finds the line yaml.v3 puts in a syntax error ("yaml: line 3:
// did not find expected key"). yaml.v3 gives no column, sometimes the line
// of the enclosing block rather than of the mistake, and no line at all
// for some problems (on the first line, or in the encoding).
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError words a yaml.v3 syntax error like the others: what is wrong,
// then where, when yaml.v3 says.
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: YAML syntax: %s (line %s)", name, m[2], m[1])
	}
	return fmt.Errorf("%s: YAML syntax: %s", name, strings.TrimPrefix(msg, "yaml: "))
}
