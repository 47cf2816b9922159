package main

import (
	"context"
	"fmt"

	"github.com/getlab/getlab/gateway/control"
)

// action is an operator command that changes the daemon: it returns the
// API's answer (printed with --json) and the lines to print otherwise.
type action func(ctx context.Context, c *control.Client) (any, []string, error)

// actionFor reads the command words of an action, in getctl's words or
// IOS's ("clear crypto gdoi ...", "crypto gdoi ks rekey ...").
func actionFor(words []string) (action, bool) {
	if len(words) >= 2 && words[0] == "crypto" && words[1] == "gdoi" {
		words = words[2:]
	}
	if len(words) >= 3 && words[0] == "clear" && words[1] == "crypto" {
		words = append([]string{"clear"}, words[2:]...)
	}
	switch {
	case len(words) == 1 && words[0] == "reload":
		return func(ctx context.Context, c *control.Client) (any, []string, error) {
			res, err := c.Reload(ctx)
			var lines []string
			for _, ch := range res.Changed {
				lines = append(lines, "changed: "+ch)
			}
			for _, g := range res.PolicyChanged {
				lines = append(lines, fmt.Sprintf("group %s: policy changed: it goes out with the next rekey (getctl ks rekey sends one now)", g))
			}
			if len(lines) == 0 {
				lines = []string{"configuration reread: nothing changed"}
			}
			return res, lines, err
		}, true
	case len(words) >= 2 && words[0] == "ks" && words[1] == "rekey":
		replace, rest := "policy-replace", words[2:]
		if len(rest) > 0 && rest[0] == "replace-now" {
			replace, rest = "now", rest[1:]
		}
		group, ok := groupWords(rest)
		return func(ctx context.Context, c *control.Client) (any, []string, error) {
			res, err := c.Rekey(ctx, group, replace)
			var lines []string
			for _, g := range res.Rekeyed {
				lines = append(lines, fmt.Sprintf("group %s: rekey sent (%s)", g, replace))
			}
			return res, lines, err
		}, ok
	case len(words) >= 4 && words[0] == "clear" && words[1] == "gdoi" && words[2] == "ks" && words[3] == "members":
		now, rest := false, words[4:]
		if len(rest) > 0 && rest[0] == "now" {
			now, rest = true, rest[1:]
		}
		group, ok := groupWords(rest)
		return func(ctx context.Context, c *control.Client) (any, []string, error) {
			res, err := c.RemoveMembers(ctx, group, now)
			lines := res.Warnings
			kind := "GM-Removal message"
			if now {
				kind = "GM-Removal immediate message"
			}
			for _, g := range res.Removed {
				lines = append(lines, fmt.Sprintf("group %s: %s sent", g, kind))
			}
			return res, lines, err
		}, ok
	case len(words) >= 2 && words[0] == "clear" && words[1] == "gdoi":
		group, ok := groupWords(words[2:])
		return func(ctx context.Context, c *control.Client) (any, []string, error) {
			res, err := c.Clear(ctx, group)
			var lines []string
			for _, g := range res.Cleared {
				lines = append(lines, fmt.Sprintf("group %s: cleared", g))
			}
			return res, lines, err
		}, ok
	case len(words) >= 3 && words[0] == "gm" && words[1] == "direction":
		dir := words[2]
		group, ok := groupWords(words[3:])
		return func(ctx context.Context, c *control.Client) (any, []string, error) {
			res, err := c.SetDirection(ctx, group, dir)
			var lines []string
			for _, g := range res.Set {
				lines = append(lines, fmt.Sprintf("group %s: IPsec SA direction %s until the next rekey", g, dir))
			}
			return res, lines, err
		}, ok
	}
	return nil, false
}

// groupWords reads an optional "group G".
func groupWords(rest []string) (string, bool) {
	switch {
	case len(rest) == 0:
		return "", true
	case len(rest) == 2 && rest[0] == "group":
		return rest[1], true
	}
	return "", false
}
