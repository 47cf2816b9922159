// Package shellwords splits a command line into words the way containerlab
// does for a node's cmd and exec lines: quotes and backslashes as in a POSIX
// shell, but no expansion, globbing or operators, because the command is
// executed directly and a container image may have no shell at all.
package shellwords

import (
	"errors"
	"strings"
)

// Split breaks line into words. Single quotes keep everything literally,
// double quotes allow \" \\ \$ \` escapes, and an unquoted backslash escapes
// the next character.
func Split(line string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range line {
		switch {
		case escaped:
			if quote == '"' && !strings.ContainsRune("\"\\$`\n", r) {
				cur.WriteRune('\\')
			}
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if escaped {
		return nil, errors.New("shellwords: line ends in a backslash")
	}
	if quote != 0 {
		return nil, errors.New("shellwords: unterminated " + string(quote) + " quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Join is Split's inverse: words joined into one line that Split turns
// back into the same words. A word that needs it is single-quoted, a
// single quote in it written '\” as in a POSIX shell.
func Join(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\") {
			b.WriteString(w)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(w, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}
