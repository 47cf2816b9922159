package config

import (
	"fmt"
	"io"
)

// Check loads the configuration at path, as `getvpnd --check CONFIG` does:
// it writes each warning (those of the file, then those about the files it
// names) and a one-line summary to w and returns the (joined) errors, if
// any.
func Check(path string, w io.Writer) error {
	c, err := Load(path)
	if err != nil {
		return err
	}
	warnings := append(c.Warnings(), c.fileWarnings()...)
	for _, x := range warnings {
		fmt.Fprintln(w, "warning:", x)
	}
	fmt.Fprintf(w, "%s: ok: role %s, %d group(s), %d warning(s)\n", c.Name, c.Role, len(c.Groups), len(warnings))
	if c.Role == RoleKS {
		fmt.Fprintf(w, "%s: limits: %s\n", c.Name, c.Limits)
	}
	return nil
}
