// Command getctl is getvpnd's operator CLI: it reads a daemon's state and
// events through its control socket and prints them as "show crypto gdoi"
// style text, or as the API's JSON documents with --json.
//
//	getctl [-s|--socket PATH] show gdoi [--json]
//	getctl [-s|--socket PATH] show ks members [--json]
//	getctl [-s|--socket PATH] show ike sa [--json]
//	getctl [-s|--socket PATH] show counters [--json]
//	getctl [-s|--socket PATH] show events [--since N] [--follow] [--json]
//	getctl [-s|--socket PATH] health [--json]
//	getctl [-s|--socket PATH] status
//
// The socket is /run/getvpnd/control.sock unless -s or $GETCTL_SOCKET says
// otherwise; a bench reaches a node's daemon with
// -s /proc/<pid>/root/run/getvpnd/control.sock. Exit status: 0 on success, 1
// when the daemon cannot be reached or answers with an error, 2 on a usage
// error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getlab/getlab/gateway/control"
)

const usage = `usage: getctl [-s|--socket PATH] COMMAND [--json]

commands:
  show gdoi                          groups, keys and registration ("show crypto gdoi")
  show ks members                    a key server's group members
  show gdoi feature [NAME]           GDOI versions and features of this daemon and, on a KS,
                                     of its peers and members ("show crypto gdoi feature")
  show ks coop                       a key server's cooperative key servers
                                     ("show crypto gdoi ks coop")
  show ike sa                        phase-1 SAs ("show crypto isakmp sa")
  show counters                      the daemon's counters
  show events [--since N] [--follow] logged events after sequence number N;
                                     --follow waits for new ones until interrupted
  ks rekey [replace-now] [group G]   a triggered rekey on a key server ("crypto gdoi ks
                                     rekey"): new TEKs, the old ones shortened to TEK_SLT,
                                     or deleted at once with replace-now; primary only
  clear gdoi [group G]               "clear crypto gdoi": on a key server registrations
                                     cleared, policies deleted, nothing sent to the GMs; on
                                     a group member keys and policy deleted, fail-close armed
                                     again, registered afresh
  clear gdoi ks members [now] [group G]
                                     GM removal on a primary key server ("clear crypto gdoi
                                     ks members"): the KEK deleted and the TEKs shortened on
                                     every GM, or (now) every key deleted at once
  gm direction DIR [group G]         a group member's IPsec SA direction until the next rekey
                                     ("crypto gdoi gm ipsec direction"): both, inbound-only
                                     or inbound-optional
  reload                             reread the configuration file (as SIGHUP); a policy
                                     change goes out with the next rekey (POLICY_CHANGE)
  health                             check that the daemon answers
  status                             the bench's normalized status, one line of JSON
                                     (registered, ks, kek_spi, tek_spis, seq)

options:
  -s, --socket PATH  control socket (default $GETCTL_SOCKET, else /run/getvpnd/control.sock)
  -j, --json         print the API's JSON document (--follow: one event per line)
  -h, --help         this text
`

// pollWait is how long one --follow request waits for new events.
const pollWait = 25 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

type options struct {
	socket string
	json   bool
	since  uint64
	follow bool
	// sinceSet records that --since was given, to refuse it on commands
	// other than show events.
	sinceSet bool
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parse splits args into options and command words. Options may come
// anywhere, as -x or --x, with "=value" or the next argument as value.
func parse(args []string, getenv func(string) string) (options, []string, error) {
	o := options{socket: control.DefaultSocket}
	if s := getenv("GETCTL_SOCKET"); s != "" {
		o.socket = s
	}
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			words = append(words, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", usageError{"option " + a + " needs a value"}
			}
			i++
			return args[i], nil
		}
		flagOnly := func() error {
			if hasVal {
				return usageError{"option -" + name + " takes no value"}
			}
			return nil
		}
		switch name {
		case "s", "socket":
			v, err := value()
			if err != nil {
				return o, nil, err
			}
			if v == "" {
				return o, nil, usageError{"empty socket path"}
			}
			o.socket = v
		case "j", "json":
			if err := flagOnly(); err != nil {
				return o, nil, err
			}
			o.json = true
		case "f", "follow":
			if err := flagOnly(); err != nil {
				return o, nil, err
			}
			o.follow = true
		case "since":
			v, err := value()
			if err != nil {
				return o, nil, err
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return o, nil, usageError{fmt.Sprintf("--since %q: not a sequence number", v)}
			}
			o.since, o.sinceSet = n, true
		case "h", "help":
			return o, nil, errHelp
		default:
			return o, nil, usageError{"unknown option " + a}
		}
	}
	return o, words, nil
}

var errHelp = errors.New("help")

// commands maps the command words (and Cisco-style aliases) to a command.
var commands = map[string]string{
	"show gdoi":                   "gdoi",
	"show crypto gdoi":            "gdoi",
	"show ks members":             "members",
	"show crypto gdoi ks members": "members",
	"show ks coop":                "coop",
	"show gdoi feature":           "feature",
	"show crypto gdoi feature":    "feature",
	"show gdoi ks coop":           "coop",
	"show crypto gdoi ks coop":    "coop",
	"show ike sa":                 "ikesa",
	"show crypto isakmp sa":       "ikesa",
	"show counters":               "counters",
	"show events":                 "events",
	"health":                      "health",
	"status":                      "status",
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	o, words, err := parse(args, getenv)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "getctl: %v\n\n%s", err, usage)
		return 2
	}
	if act, ok := actionFor(words); ok {
		c := control.Dial(o.socket)
		defer c.CloseIdleConnections()
		res, lines, err := act(ctx, c)
		if err != nil {
			fmt.Fprintf(stderr, "getctl: %v\n", err)
			return 1
		}
		if o.json {
			b, _ := json.Marshal(res)
			printJSON(stdout, b)
			return 0
		}
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
		return 0
	}
	words, feature := featureWords(words)
	cmd, ok := commands[strings.Join(words, " ")]
	if !ok {
		if len(words) == 0 {
			fmt.Fprintf(stderr, "getctl: no command\n\n%s", usage)
		} else {
			fmt.Fprintf(stderr, "getctl: unknown command %q\n\n%s", strings.Join(words, " "), usage)
		}
		return 2
	}
	if cmd != "events" && (o.follow || o.sinceSet) {
		fmt.Fprintf(stderr, "getctl: --since and --follow go with show events\n\n%s", usage)
		return 2
	}

	c := control.Dial(o.socket)
	defer c.CloseIdleConnections()
	if cmd == "events" {
		err = showEvents(ctx, c, o, stdout, stderr)
	} else {
		err = show(ctx, c, cmd, feature, o.json, stdout)
	}
	if err != nil {
		if o.follow && ctx.Err() != nil {
			return 0 // interrupted
		}
		fmt.Fprintf(stderr, "getctl: %v\n", err)
		return 1
	}
	return 0
}

var paths = map[string]string{
	"gdoi":     "/v1/gdoi",
	"members":  "/v1/ks/members",
	"coop":     "/v1/ks/coop",
	"feature":  "/v1/gdoi/feature",
	"ikesa":    "/v1/ike/sa",
	"counters": "/v1/counters",
	"health":   "/v1/health",
}

// featureWords splits "show [crypto] gdoi feature NAME" into the command
// and the feature's name ("" when none is given).
func featureWords(words []string) ([]string, string) {
	for _, head := range [][]string{{"show", "gdoi", "feature"}, {"show", "crypto", "gdoi", "feature"}} {
		if len(words) == len(head)+1 && slices.Equal(words[:len(head)], head) {
			return head, words[len(head)]
		}
	}
	return words, ""
}

func show(ctx context.Context, c *control.Client, cmd, feature string, asJSON bool, w io.Writer) error {
	path := paths[cmd]
	if cmd == "status" { // JSON whatever --json says
		g, err := c.GDOI(ctx)
		if err != nil {
			return err
		}
		return printStatus(w, g)
	}
	if asJSON {
		var raw json.RawMessage
		if err := c.Get(ctx, path, &raw); err != nil {
			return err
		}
		return printJSON(w, raw)
	}
	switch cmd {
	case "gdoi":
		g, err := c.GDOI(ctx)
		if err != nil {
			return err
		}
		formatGDOI(w, g)
	case "members":
		m, err := c.Members(ctx)
		if err != nil {
			return err
		}
		formatMembers(w, m)
	case "feature":
		f, err := c.Features(ctx)
		if err != nil {
			return err
		}
		formatFeatures(w, f, feature)
	case "coop":
		s, err := c.COOP(ctx)
		if err != nil {
			return err
		}
		formatCOOP(w, s)
	case "ikesa":
		s, err := c.IKESAs(ctx)
		if err != nil {
			return err
		}
		formatIKESAs(w, s)
	case "counters":
		m, err := c.Counters(ctx)
		if err != nil {
			return err
		}
		formatCounters(w, m)
	case "health":
		if err := c.Health(ctx); err != nil {
			return err
		}
		fmt.Fprintf(w, "getvpnd at %s: ok\n", c.Path())
	}
	return nil
}

// printJSON prints an API document indented, as the daemon sent it.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("daemon sent invalid JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func showEvents(ctx context.Context, c *control.Client, o options, w, stderr io.Writer) error {
	since := o.since
	if o.json && !o.follow {
		var raw json.RawMessage
		if err := c.Get(ctx, "/v1/events?since="+strconv.FormatUint(since, 10), &raw); err != nil {
			return err
		}
		return printJSON(w, raw)
	}
	for {
		wait := time.Duration(0)
		if o.follow {
			wait = pollWait
		}
		evs, err := c.Events(ctx, since, wait)
		if err != nil {
			return err
		}
		if len(evs) > 0 && since > 0 && evs[0].Seq > since+1 {
			fmt.Fprintf(stderr, "getctl: events %d to %d are no longer held by the daemon\n", since+1, evs[0].Seq-1)
		}
		for _, e := range evs {
			if o.json {
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
			} else {
				formatEvent(w, e)
			}
			since = e.Seq
		}
		if !o.follow {
			return nil
		}
	}
}
