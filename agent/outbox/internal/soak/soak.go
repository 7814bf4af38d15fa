// Command soak is the outbox's SIGKILL soak test: it runs a child process
// that appends, delivers and acknowledges records at full speed, kills it
// with SIGKILL at a random moment, reopens the outbox and checks every
// invariant, over and over. The child reports each append on stdout only
// after Append returned (the record is saved) and each acknowledgement
// before calling Ack and after it returned; the parent then checks that
//
//   - every saved record is still there, byte for byte, or was acknowledged
//     or dead-lettered (none lost);
//   - every record present is whole and was built by the child, with the
//     hash-chain link to the saved record before it (none damaged, none
//     phantom), in sequence order;
//   - no acknowledged record is delivered again, and dead letters stay;
//   - nothing was quarantined and Inspect finds no damage.
//
// It ends with one line: "N cycles, A appended, L lost, D damaged", and
// exits 1 when anything was lost or damaged or another invariant broke.
//
//	go run ./agent/outbox/internal/soak -cycles 1000
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bali-rbdes/kiosk/agent/outbox"
)

// childEnv makes a process the soak child, writing into the directory it
// names.
const childEnv = "OUTBOX_SOAK_CHILD_DIR"

func main() {
	if dir := os.Getenv(childEnv); dir != "" {
		runChild(dir)
		return
	}
	cycles := flag.Int("cycles", 1000, "SIGKILL cycles to run")
	dir := flag.String("dir", "", "outbox directory (default: a new temporary directory, removed afterwards)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed for kill times")
	maxKill := flag.Duration("max-kill", 300*time.Millisecond, "kill the child at a random moment up to this long after it starts")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "outbox-soak")
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res, err := Run(Config{Dir: *dir, Cycles: *cycles, Seed: *seed, MaxKill: *maxKill, Child: exec.Command(exe), Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
	fmt.Println(res)
	if err != nil || !res.OK() {
		os.Exit(1)
	}
}

// Config drives Run.
type Config struct {
	Dir     string
	Cycles  int
	Seed    uint64
	MaxKill time.Duration
	// Child is a command that runs runChild when childEnv is set in its
	// environment (its Env is extended, its Stdout replaced).
	Child *exec.Cmd
	Log   io.Writer
}

// Result counts what the soak saw.
type Result struct {
	Cycles, Appended, Lost, Damaged, Violations int
}

// OK reports whether every invariant held.
func (r Result) OK() bool { return r.Lost == 0 && r.Damaged == 0 && r.Violations == 0 }

func (r Result) String() string {
	return fmt.Sprintf("%d cycles, %d appended, %d lost, %d damaged", r.Cycles, r.Appended, r.Lost, r.Damaged)
}

// childOptions are the outbox options of the child: small segments so that
// rolls and deletions happen all the time.
func childOptions() *outbox.Options {
	return &outbox.Options{MaxBytes: 64 << 20, SegmentBytes: 256 << 10, Window: 16, MaxDeliveries: 3}
}

// model is what the parent knows from the child's reports, across cycles.
type model struct {
	saved    map[uint64][32]byte
	acked    map[uint64]bool // Ack returned
	ackTried map[uint64]bool // Ack called (the kill may fall between Ack and its report)
	dead     map[uint64]bool
}

// Run runs the soak.
func Run(cfg Config) (Result, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x50a6))
	m := &model{saved: map[uint64][32]byte{}, acked: map[uint64]bool{}, ackTried: map[uint64]bool{}, dead: map[uint64]bool{}}
	var res Result
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	for c := 1; c <= cfg.Cycles; c++ {
		kill := time.Duration(rng.Int64N(int64(cfg.MaxKill)))
		if err := m.cycle(cfg, kill, rng.IntN(2) == 0); err != nil {
			return res, fmt.Errorf("cycle %d: %w", c, err)
		}
		res.Cycles = c
		lost, damaged, violations, err := m.check(cfg.Dir, logf, c)
		if err != nil {
			return res, fmt.Errorf("cycle %d: %w", c, err)
		}
		res.Lost += lost
		res.Damaged += damaged
		res.Violations += violations
		res.Appended = len(m.saved)
		if !res.OK() {
			return res, fmt.Errorf("cycle %d: invariants broken (see above)", c)
		}
	}
	return res, nil
}

// cycle runs the child, kills it after kill (counted from its start, or from
// the end of its open with afterOpen) and records what it reported.
func (m *model) cycle(cfg Config, kill time.Duration, afterOpen bool) error {
	cmd := exec.Command(cfg.Child.Path, cfg.Child.Args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+cfg.Dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var lines []string
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil { // only whole lines: the last one may have been cut by the kill
				if err == io.EOF {
					err = nil
				}
				done <- err
				return
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "O" {
				close(ready)
			}
			lines = append(lines, l)
		}
	}()
	if afterOpen {
		// Count the kill delay from the end of the child's open, so a slow
		// machine (or an emulator) still appends something every cycle.
		select {
		case <-ready:
		case <-time.After(time.Minute):
		}
	}
	time.Sleep(kill)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return fmt.Errorf("child ended by itself (%v), not by SIGKILL; its last words: %q", werr, lines[max(0, len(lines)-3):])
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		seq, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("child said %q", l)
		}
		switch f[0] {
		case "A":
			h, err := hex.DecodeString(f[2])
			if err != nil || len(h) != 32 {
				return fmt.Errorf("child said %q", l)
			}
			var hash [32]byte
			copy(hash[:], h)
			if old, ok := m.saved[seq]; ok && old != hash {
				return fmt.Errorf("saved record %d reported twice with different contents", seq)
			}
			m.saved[seq] = hash
		case "k":
			m.ackTried[seq] = true
		case "K":
			m.acked[seq] = true
		case "D":
			m.dead[seq] = true
		}
	}
	return nil
}

// check reopens the outbox and checks every invariant.
func (m *model) check(dir string, logf func(string, ...any), cycle int) (lost, damaged, violations int, err error) {
	opts := childOptions()
	opts.Window = 1 << 30
	ob, err := outbox.New(dir, opts)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("reopening after SIGKILL: %w", err)
	}
	defer ob.Close()
	st := ob.Stats()
	if st.Quarantined != 0 || st.Lost != 0 {
		logf("cycle %d: %d quarantined files, %d records lost to damage", cycle, st.Quarantined, st.Lost)
		damaged += st.Quarantined + int(st.Lost)
	}
	present := map[uint64]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last uint64
	for i := int64(0); i < ob.Stats().Records; i++ {
		d, err := ob.Next(ctx)
		if err != nil {
			return lost, damaged, violations, fmt.Errorf("reading record %d of %d: %w", i+1, ob.Stats().Records, err)
		}
		seq, prev, ok := checkPayload(d.Payload)
		h := sha256.Sum256(d.Payload)
		switch {
		case !ok || seq != d.Seq:
			logf("cycle %d: record %d is damaged or phantom", cycle, d.Seq)
			damaged++
		case d.Seq <= last:
			logf("cycle %d: record %d delivered after %d", cycle, d.Seq, last)
			violations++
		}
		if want, ok := m.saved[d.Seq]; ok && want != h {
			logf("cycle %d: saved record %d changed", cycle, d.Seq)
			damaged++
		}
		if want, ok := m.saved[d.Seq-1]; ok && want != prev {
			logf("cycle %d: record %d does not link to saved record %d", cycle, d.Seq, d.Seq-1)
			damaged++
		}
		if m.acked[d.Seq] {
			logf("cycle %d: acknowledged record %d delivered again", cycle, d.Seq)
			violations++
		}
		last = d.Seq
		present[d.Seq] = true
	}
	deadSet := map[uint64]bool{}
	for _, dl := range ob.DeadLetters() {
		deadSet[dl.Seq] = true
		p, err := ob.DeadLetterPayload(dl.Seq)
		if err != nil {
			return lost, damaged, violations, err
		}
		if want, ok := m.saved[dl.Seq]; ok && want != sha256.Sum256(p) {
			logf("cycle %d: dead letter %d changed", cycle, dl.Seq)
			damaged++
		}
	}
	for seq := range m.saved {
		switch {
		case m.dead[seq] && !deadSet[seq]:
			logf("cycle %d: dead letter %d lost", cycle, seq)
			lost++
		case !present[seq] && !m.acked[seq] && !m.ackTried[seq] && !deadSet[seq]:
			logf("cycle %d: saved record %d lost", cycle, seq)
			lost++
		}
	}
	if err := ob.Close(); err != nil {
		return lost, damaged, violations, err
	}
	rep, err := outbox.Inspect(dir, true)
	if err != nil {
		return lost, damaged, violations, err
	}
	for _, p := range rep.Problems {
		if p.Damage {
			logf("cycle %d: %v", cycle, p)
			damaged++
		}
	}
	return lost, damaged, violations, nil
}

// payload layout: seq u64 | prev [32] | filler | SHA-256 of what precedes.
func makePayload(seq uint64, prev [32]byte, size int, rng *rand.Rand) []byte {
	size = max(size, 72)
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, seq)
	copy(b[8:], prev[:])
	for i := 40; i < size-32; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	s := sha256.Sum256(b[:size-32])
	copy(b[size-32:], s[:])
	return b
}

func checkPayload(b []byte) (seq uint64, prev [32]byte, ok bool) {
	if len(b) < 72 {
		return 0, prev, false
	}
	s := sha256.Sum256(b[:len(b)-32])
	copy(prev[:], b[8:40])
	return binary.LittleEndian.Uint64(b), prev, bytes.Equal(s[:], b[len(b)-32:])
}

// runChild appends and delivers at full speed until killed, reporting on
// stdout: "A seq sha256" after each Append returned, "k seq" before and
// "K seq" after each Ack, "D seq" after each DeadLetter returned.
func runChild(dir string) {
	ob, err := outbox.New(dir, childOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak child: open:", err)
		os.Exit(3)
	}
	var outMu sync.Mutex
	w := bufio.NewWriterSize(os.Stdout, 256)
	report := func(format string, args ...any) {
		outMu.Lock()
		fmt.Fprintf(w, format+"\n", args...)
		w.Flush() // one write per line: a kill cannot leave half a report
		outMu.Unlock()
	}
	report("O") // opened
	ctx := context.Background()
	for a := 0; a < 4; a++ {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(a)))
			for {
				size := 1 << 10
				if rng.IntN(2) == 0 {
					size = 1<<10 + rng.IntN(50<<10)
				}
				var h [32]byte
				seq, err := ob.AppendWith(ctx, func(seq uint64, prev [32]byte) ([]byte, error) {
					p := makePayload(seq, prev, size, rng)
					h = sha256.Sum256(p)
					return p, nil
				})
				if errors.Is(err, outbox.ErrFull) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "soak child: append:", err)
					os.Exit(3)
				}
				report("A %d %x", seq, h)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 99))
	for {
		d, err := ob.Next(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak child: next:", err)
			os.Exit(3)
		}
		switch r := rng.IntN(500); {
		case r == 0:
			if err := ob.DeadLetter(d.Seq, "rejected by the soak"); err == nil {
				report("D %d", d.Seq)
			}
		case r < 10:
			ob.Fail(d.Seq, "no ack in time") // may move it to dead letters: not reported, so not checked
		case r < 12:
			ob.Rewind()
		default:
			report("k %d", d.Seq)
			if err := ob.Ack(d.Seq); err == nil {
				report("K %d", d.Seq)
			}
		}
	}
}
