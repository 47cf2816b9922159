// Package enum names the codecs' numbered values from their tables: one
// lookup, so that every wire enum's String falls back the same way for a
// number without a name.
package enum

import "fmt"

// Name returns names[v], or v formatted with unknown ("NOTIFY-%d", say)
// when the table has no name for it.
func Name[T ~uint8 | ~uint16 | ~uint32](names map[T]string, v T, unknown string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf(unknown, uint64(v))
}
