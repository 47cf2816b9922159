package topo

import (
	"bytes"
	"fmt"
	"strings"
)

// expandEnv substitutes environment variables in the raw file the way
// containerlab does before it parses YAML (core/file.go: envsubst with
// "no replace" and "no digit" set):
//
//   - $$ is an escaped $ (so exec commands can keep "$$FOO" for the node's shell);
//   - $NAME and ${NAME} take the variable's value when it is set (even empty),
//     and stay as written when it is not;
//   - ${NAME:=default} and ${NAME:-default} take the value when it is set and
//     not empty, else the default, which is literal text;
//   - $1, ${1} (names starting with a digit) and a $ before anything else
//     stay as written.
//
// The other operators containerlab's envsubst has (${NAME-x}, ${NAME=x},
// ${NAME+x}, ${NAME:+x}) and a default that itself holds a $ are refused as
// not supported by getlab, rather than guessed at. Errors carry line numbers.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []expandError) {
	if bytes.IndexByte(data, '$') < 0 {
		return data, nil
	}
	var out bytes.Buffer
	out.Grow(len(data))
	var errs []expandError
	line := 1
	for i := 0; i < len(data); {
		c := data[i]
		if c != '$' {
			if c == '\n' {
				line++
			}
			out.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(data) {
			out.WriteByte('$')
			i++
			continue
		}
		switch next := data[i+1]; {
		case next == '$':
			out.WriteByte('$')
			i += 2
		case next == '{':
			n, text, err := expandBraced(data[i:], lookup)
			if err != "" {
				errs = append(errs, expandError{line, err})
			}
			line += strings.Count(string(data[i:i+n]), "\n")
			out.WriteString(text)
			i += n
		case isNameStart(next):
			j := i + 1
			for j < len(data) && isNameByte(data[j]) {
				j++
			}
			name := string(data[i+1 : j])
			if v, ok := lookup(name); ok && name != "_" {
				out.WriteString(v)
			} else {
				out.Write(data[i:j])
			}
			i = j
		default:
			out.WriteByte('$')
			i++
		}
	}
	return out.Bytes(), errs
}

// expandError is a problem found while expanding, with its line.
type expandError struct {
	line int
	msg  string
}

// expandBraced expands the ${...} expression at the start of s. It returns
// how many bytes of s it consumed, the text that replaces them and an error
// message ("" if none).
func expandBraced(s []byte, lookup func(string) (string, bool)) (int, string, string) {
	j := 2
	if j >= len(s) || !isNameStart(s[j]) {
		// ${2}, ${_x...} with a leading digit, "${ ": not an expression.
		return 2, "${", ""
	}
	for j < len(s) && isNameByte(s[j]) {
		j++
	}
	name := string(s[2:j])
	if name == "_" {
		return 2, "${", ""
	}
	if j >= len(s) {
		return len(s), string(s), fmt.Sprintf("%q: closing brace expected", abbrev(s))
	}
	switch {
	case s[j] == '}':
		if v, ok := lookup(name); ok {
			return j + 1, v, ""
		}
		return j + 1, string(s[:j+1]), ""
	case j+1 < len(s) && s[j] == ':' && (s[j+1] == '=' || s[j+1] == '-'):
		end := bytes.IndexByte(s[j+2:], '}')
		if end < 0 {
			return len(s), string(s), fmt.Sprintf("%q: closing brace expected", abbrev(s))
		}
		def := s[j+2 : j+2+end]
		n := j + 2 + end + 1
		if bytes.ContainsAny(def, "${\n") {
			return n, string(s[:n]), fmt.Sprintf("%q: a default holding $, { or a newline is not supported by getlab", abbrev(s[:n]))
		}
		if v, ok := lookup(name); ok && v != "" {
			return n, v, ""
		}
		return n, string(def), ""
	case s[j] == '-' || s[j] == '=' || s[j] == '+' || s[j] == ':':
		end := bytes.IndexByte(s[j:], '}')
		n := len(s)
		if end >= 0 {
			n = j + end + 1
		}
		return n, string(s[:n]), fmt.Sprintf("%q: this form of variable expansion is not supported by getlab (use ${NAME}, ${NAME:=default} or ${NAME:-default})", abbrev(s[:n]))
	default:
		end := bytes.IndexByte(s[j:], '}')
		n := len(s)
		if end >= 0 {
			n = j + end + 1
		}
		return n, string(s[:n]), fmt.Sprintf("%q: closing brace expected after ${%s", abbrev(s[:n]), name)
	}
}

func abbrev(s []byte) string {
	if i := bytes.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		return string(s[:40]) + "..."
	}
	return string(s)
}

func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9'
}
