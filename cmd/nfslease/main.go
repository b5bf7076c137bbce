//go:build unix

// Command nfslease is flock(1) for shared storage: it runs a command while
// holding a lease on a lock path on NFS, GlusterFS, sshfs or SMB, refreshes
// the lease itself, and stops the command if the lease is lost.
//
//	nfslease run [flags] LOCKPATH [--] COMMAND [ARGS...]
//	nfslease lead [flags] LOCKPATH [--] COMMAND [ARGS...]
//	nfslease status [--json] [--check] LOCKPATH
//	nfslease break [--force] LOCKPATH
//	nfslease bench [--dir DIR] [--procs N] [--duration D]
//	nfslease version
//
// Every command, flag, environment variable and exit status is described
// in docs/cli.md; `nfslease COMMAND --help` prints a summary.
//
// Install it with
//
//	go install github.com/nfslease/nfslease/cmd/nfslease@latest
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

// Exit statuses. The command's own status is passed through by run and
// lead; these are nfslease's own (docs/cli.md).
const (
	exitOK       = 0
	exitConflict = 1  // default of -E: held elsewhere under -n, or -w ran out; status --check: not held; break: refused
	exitUsage    = 64 // EX_USAGE: bad flags or arguments, as flock(1)
	exitError    = 71 // EX_OSERR: the lock could not be used or read (the message says why)
	exitLost     = 75 // EX_TEMPFAIL: the lease was lost while the command ran; it was stopped
	exitNoExec   = 126
	exitNotFound = 127
)

const usage = `nfslease: flock(1) for shared storage (NFS, GlusterFS, sshfs, SMB)

Usage:
  nfslease run [flags] LOCKPATH [--] COMMAND [ARGS...]   run COMMAND while holding the lease
  nfslease lead [flags] LOCKPATH [--] COMMAND [ARGS...]  leader election: run COMMAND while leading
  nfslease status [--json] [--check] LOCKPATH            who holds the lock
  nfslease break [--force] LOCKPATH                      remove a stale lock (--force: any lock)
  nfslease bench [--dir DIR] [--procs N] [--duration D]  measure this storage, recommend settings
  nfslease version                                       print the version

Run 'nfslease COMMAND --help' for a command's flags. Exit statuses,
environment and the JSON schema: docs/cli.md.
`

func main() {
	os.Exit(mainStatus(os.Args[1:], os.Stdout, os.Stderr))
}

// mainStatus runs the command line args and returns the exit status.
func mainStatus(args []string, stdout, stderr io.Writer) int {
	if isWorker() {
		return benchWorker(stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], false, stdout, stderr)
	case "lead":
		return runCommand(args[1:], true, stdout, stderr)
	case "status":
		return statusCommand(args[1:], stdout, stderr)
	case "break":
		return breakCommand(args[1:], stdout, stderr)
	case "bench":
		return benchCommand(args[1:], stdout, stderr)
	case "version":
		return versionCommand(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "-V", "--version":
		return versionCommand(nil, stdout, stderr)
	}
	return usageError(stderr, "", fmt.Sprintf("unknown command %q", args[0]))
}

// usageError reports a usage error and returns exitUsage.
func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "nfslease: %s\n", msg)
	if cmd != "" {
		fmt.Fprintf(stderr, "Try 'nfslease %s --help'.\n", cmd)
	} else {
		fmt.Fprintln(stderr, "Try 'nfslease --help'.")
	}
	return exitUsage
}

// failure reports err on one line and returns status.
func failure(stderr io.Writer, status int, err error) int {
	fmt.Fprintf(stderr, "nfslease: %s\n", message(err))
	return status
}

// message is err's text with the packages' own prefixes removed, so that
// the line carries exactly one ("nfslease: ").
func message(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "lease: ")
	s = strings.ReplaceAll(s, ": lease: ", ": ")
	s = strings.ReplaceAll(s, ": algorithm: ", ": ")
	s = strings.TrimPrefix(s, "algorithm: ")
	return strings.ReplaceAll(s, "\n", " ")
}

// newFlags makes the flag set of a command. Parse errors are returned,
// never printed; --help is handled by parse.
func newFlags(cmd, synopsis string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("nfslease "+cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.BoolP("help", "h", false, "print this help and exit")
	fs.Lookup("help").Hidden = false
	fs.SetAnnotation("help", "synopsis", []string{synopsis})
	return fs
}

// parse parses args into fs. It returns done with the status to exit
// with when parsing ended the command: --help (0) or a usage error (64).
func parse(fs *pflag.FlagSet, cmd string, args []string, stdout, stderr io.Writer) (status int, done bool) {
	err := fs.Parse(args)
	if h, _ := fs.GetBool("help"); h || errors.Is(err, pflag.ErrHelp) {
		printHelp(fs, stdout)
		return exitOK, true
	}
	if err != nil {
		return usageError(stderr, cmd, err.Error()), true
	}
	return 0, false
}

func printHelp(fs *pflag.FlagSet, w io.Writer) {
	syn := fs.Lookup("help").Annotations["synopsis"]
	fmt.Fprintf(w, "Usage:\n  %s\n\nFlags:\n%s", strings.Join(syn, "\n  "), fs.FlagUsages())
	if extra, ok := helpText[fs.Name()]; ok {
		fmt.Fprint(w, "\n"+extra)
	}
}

// helpText is printed after a command's flags.
var helpText = map[string]string{
	"nfslease run": `The command runs with NFSLEASE_PATH (the lock path, absolute) and
NFSLEASE_TOKEN (the lease's fencing token) in its environment, in its own
process group. SIGINT, SIGTERM and SIGHUP are forwarded to that group. The
lease is refreshed in the background and released as soon as the command
exits. If the lease is lost, the group gets SIGTERM, then SIGKILL after
--grace, and nfslease exits 75.

Exit status: the command's (128+N if killed by signal N); 1 (or -E) if the
lock is held elsewhere under -n or -w ran out; 64 usage; 71 the lock could
not be used; 75 the lease was lost; 126/127 the command cannot be run.
`,
	"nfslease lead": `Campaigns for the lock and runs the command while leading. If leadership
is lost the command is stopped (SIGTERM to its process group, SIGKILL after
--grace) and nfslease campaigns again, then starts the command again. It
exits when the command exits on its own (with its status) or when
nfslease gets SIGINT, SIGTERM or SIGHUP (forwarded to the command).
`,
	"nfslease status": `Exit status: 0 if the lock could be read, whatever its state; with
--check, 0 only if a live holder has it (held, not stale) and 1 otherwise;
64 usage; 71 the lock could not be read or is not a lock.
`,
	"nfslease break": `Without --force, a lock is broken only once it is proven stale: watched
unchanged for its holder's lifetime + 1 s (or a Flufl lock past its expiry
plus the skew allowance); a lock that changes meanwhile is refused (exit 1,
nothing changed). With --force it is broken at once, whoever holds it;
the holder finds out at its next refresh.
`,
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "nfslease version")
	if st, done := parse(fs, "version", args, stdout, stderr); done {
		return st
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "version", "version takes no arguments")
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

// versionString is the module version and the Go version, from the build
// information ("(devel)" when built from a work tree).
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "nfslease (unknown version)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	s := fmt.Sprintf("nfslease %s %s", v, bi.GoVersion)
	for _, st := range bi.Settings {
		if st.Key == "vcs.revision" {
			s += " " + st.Value
		}
	}
	return s
}
