// Command kioskctl is the technician's and developer's tool for the kiosk
// agent: it extracts and matches fingerprint templates, generates synthetic
// fingerprints, checks configs, probes and captures from devices, provisions
// keys, inspects the outbox and signs firmware. Run "kioskctl help" for the
// list of commands; every command takes -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/bali-rbdes/kiosk/agent/buildinfo"
)

// command is one kioskctl subcommand. Its name may have several words
// ("config check"); the longest name matching the arguments wins.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io *stdio, args []string) error
}

// stdio carries the streams a command writes to.
type stdio struct {
	out, err io.Writer
}

// exitError makes kioskctl exit with a given status after printing msg.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is a bad flag or argument: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// commands lists every subcommand; each lives in its own file.
var commands = []command{
	{"config check", "validate a kioskd or rbdes-node config file", runConfigCheck},
	{"version", "print the version and commit", runVersion},
	{"extract", "extract minutiae from fingerprint images into ISO/IEC 19794-2 or ANSI 378 records", runExtract},
	{"eval", "run the FVC protocol (EER, FNMR at FMR 1%/0.1%) on fingerprint databases", runEval},
	{"match", "compare two finger minutiae records and print their similarity", runMatch},
	{"synth", "generate synthetic fingerprints with ground truth (FVC layout)", runSynth},
	{"face detect", "find faces and eyes in images and judge them as portraits (JSON lines)", runFaceDetect},
	{"face token", "write the ISO/IEC 19794-5 token record of the face in an image", runFaceToken},
	{"provision", "create a kiosk's device signing key, TLS key and CSR (-rotate: next device key)", runProvision},
	{"ca init", "create a development CA for tests and the demo", runCAInit},
	{"ca sign", "sign a kiosk, node or broker certificate request with the development CA", runCASign},
	{"ca issue", "make a TLS key and development-CA certificate for a broker or node", runCAIssue},
	{"keys node", "create a national node's HPKE sealing key pair and command-signing key pair", runKeysNode},
	{"probe", "detect each configured device and print model, firmware, serial, link speed and parameters", runProbe},
	{"capture finger", "take a finger image from the configured sensor (real or simulated) into a PNG", runCaptureFinger},
	{"capture face", "take a face image from the configured camera (real or simulated) into a JPEG", runCaptureFace},
	{"outbox stat", "show an outbox's records waiting, bytes, oldest unacked age, dead letters, quarantine", runOutboxStat},
	{"outbox verify", "check every record CRC of an outbox; exit 1 on damage", runOutboxVerify},
	{"demo", "run the whole chain on loopback: simulated kiosk, embedded broker, reference node, synthetic travellers", runDemo},
	{"firmware build", "build and sign a firmware bundle for a board (make firmware runs it)", runFirmwareBuild},
	{"firmware keygen", "create an Ed25519 firmware signing key pair", runFirmwareKeygen},
	{"firmware sign", "sign or re-sign a firmware bundle (e.g. with the offline release key)", runFirmwareSign},
	{"firmware verify", "check a bundle's signature against trusted keys and every file's SHA-256; exit 1 if rejected", runFirmwareVerify},
	{"firmware inspect", "show a bundle's manifest, files and signer", runFirmwareInspect},
	{"firmware install", "install a bundle into the inactive slot; commit when kioskd stays healthy, else roll back", runFirmwareInstall},
	{"firmware status", "show the firmware slots, the slot on trial and the update history", runFirmwareStatus},
	{"firmware commit", "commit the firmware slot on trial by hand", runFirmwareCommit},
	{"firmware rollback", "roll back the slot on trial, or switch to the other complete slot", runFirmwareRollback},
	{"firmware boot", "boot-time check: roll back an uncommitted update, repair the active slot", runFirmwareBoot},
	{"firmware failed", "kioskd's OnFailure action: roll back an update on trial", runFirmwareFailed},
	{"firmware grow-data", "first boot: grow the data partition to the end of the card", runFirmwareGrowData},
	{"firmware provision", "lay out a kiosk's data partition: identity, node keys, site config", runFirmwareProvision},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &stdio{out: os.Stdout, err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, st *stdio, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(st.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		fmt.Fprintf(st.err, "kioskctl: unknown command %q; run kioskctl help for the list\n", strings.Join(args[:min(2, len(args))], " "))
		return 2
	}
	err := cmd.run(ctx, st, rest)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(st.err, "kioskctl %s: %s\n", cmd.name, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(st.err, "kioskctl %s: %v\n", cmd.name, err)
	return 1
}

func lookup(args []string) (*command, []string) {
	var best *command
	bestWords := 0
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(words) > len(args) || len(words) <= bestWords {
			continue
		}
		match := true
		for j, w := range words {
			if args[j] != w {
				match = false
				break
			}
		}
		if match {
			best, bestWords = &commands[i], len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestWords:]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kioskctl COMMAND [flags] [args]\n\ncommands:")
	sorted := append([]command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun kioskctl COMMAND -h for a command's flags.")
}

// newFlags returns a flag set for a subcommand whose usage text names it.
func newFlags(st *stdio, name, argsSynopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("kioskctl "+name, flag.ContinueOnError)
	fs.SetOutput(st.err)
	fs.Usage = func() {
		fmt.Fprintf(st.err, "usage: kioskctl %s [flags] %s\n\n%s\n", name, argsSynopsis, about)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(st.err, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, turning a flag error into a usage error (exit 2)
// and -h into flag.ErrHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2}
	}
	return nil
}

func runVersion(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "version", "", "Print the version and commit kioskctl was built from.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, c := buildinfo.Get()
	fmt.Fprintf(st.out, "kioskctl %s (commit %s)\n", v, c)
	return nil
}
