package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/cmd/internal/demo"
)

// TestFootprintSoak is the footprint and leak test of kioskd (make
// soak-capture, not part of make test): the kioskd binary runs with every
// kind of simulated device (FPC1020 sensor placing synthetic fingers by
// itself, UVC camera, presence sensor with a traveller about every 2 s,
// status LED, face light, tamper switch) and delivers to the demo's broker
// and node, for KIOSK_SOAK_TRAVELLERS travellers. It samples the process's
// resident memory, Go heap and goroutines, and fails when the resident
// memory passes 40 MB or grows between the first and the last tenth of
// the run.
func TestFootprintSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("KIOSK_SOAK_TRAVELLERS"))
	if n <= 0 {
		t.Skip("set KIOSK_SOAK_TRAVELLERS=N (make soak-capture) to run the footprint soak")
	}
	dir := t.TempDir()
	bin := os.Getenv("KIOSKD")
	if bin == "" {
		bin = filepath.Join(dir, "kioskd")
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			t.Fatalf("building kioskd: %v\n%s", err, out)
		}
	}
	ctx := context.Background()
	w, err := demo.Start(ctx, demo.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	portrait := filepath.Join(dir, "portrait.png")
	if err := demo.FramePortrait("../../agent/face/testdata/astronaut.png", portrait); err != nil {
		t.Fatal(err)
	}
	cfg, listen, err := w.WriteKioskConfig(demo.KioskSettings{Portrait: portrait, SelfServe: true,
		Fingers: []string{"right_index"}, PresenceEvery: 800 * time.Millisecond, FaceBudget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "kioskd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// KIOSK_SOAK_ENV adds variables to kioskd's environment (e.g.
	// "GOGC=50 GODEBUG=gctrace=1") to compare runtime settings.
	if extra := strings.Fields(os.Getenv("KIOSK_SOAK_ENV")); len(extra) > 0 {
		cmd.Env = append(os.Environ(), extra...)
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("kioskd stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("kioskd did not stop within 15 s of SIGTERM")
		}
	}()
	base := "http://" + listen
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = demo.WaitReady(rctx, base)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	ready := time.Since(t0)

	var mu sync.Mutex
	saved, delivered := map[uint64]bool{}, map[uint64]bool{}
	outcomes := map[capture.Outcome]int{}
	var reasons []string
	fctx, stopFollow := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		demo.FollowEvents(fctx, base, 0, func(e capture.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case capture.KindSaved:
				saved[e.Saved.Seq] = true
			case capture.KindDelivered:
				delivered[e.Delivered.Seq] = true
			case capture.KindEnded:
				outcomes[e.Ended.Outcome]++
				if e.Ended.Outcome != capture.OutcomeSaved && len(reasons) < 20 {
					reasons = append(reasons, e.Ended.Reason)
				}
			}
		}, nil)
	}()
	defer func() { stopFollow(); <-followed }()

	type sample struct {
		travellers int
		rss, heap  float64 // MB
		goroutines int
	}
	var samples []sample
	next := 10
	start := time.Now()
	lastProgress := time.Now()
	for {
		select {
		case err := <-exited:
			t.Fatalf("kioskd exited: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		mu.Lock()
		s, d := len(saved), len(delivered)
		mu.Unlock()
		if s >= next || s >= n {
			rss := procRSS(cmd.Process.Pid)
			heap, gr := goMetrics(base)
			samples = append(samples, sample{s, rss, heap, gr})
			if s%100 == 0 || s >= n {
				t.Logf("SOAK %d travellers in %v: RSS %.1f MB, heap in use %.1f MB, %d goroutines", s, time.Since(start).Round(time.Second), rss, heap, gr)
			}
			next = s + 10
			lastProgress = time.Now()
		}
		if s >= n && d >= s {
			break
		}
		if time.Since(lastProgress) > 3*time.Minute {
			t.Fatalf("no progress for 3 minutes (saved %d, delivered %d, outcomes %v); see %s", s, d, outcomes, logf.Name())
		}
	}
	elapsed := time.Since(start)
	tenth := max(1, len(samples)/10)
	early, late := samples[tenth:min(2*tenth, len(samples))], samples[len(samples)-tenth:]
	med := func(ss []sample, f func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rssOf := func(s sample) float64 { return s.rss }
	heapOf := func(s sample) float64 { return s.heap }
	grOf := func(s sample) float64 { return float64(s.goroutines) }
	maxRSS := 0.0
	for _, s := range samples[tenth:] {
		maxRSS = max(maxRSS, s.rss)
	}
	mu.Lock()
	t.Logf("SOAK done: %d travellers in %v (one every %.2f s), outcomes %v; start to ready %.2f s; RSS median %.1f MB early, %.1f MB late, %.1f MB max after warm-up; heap in use %.1f -> %.1f MB; goroutines %.0f -> %.0f",
		n, elapsed.Round(time.Second), elapsed.Seconds()/float64(n), outcomes, ready.Seconds(),
		med(early, rssOf), med(late, rssOf), maxRSS, med(early, heapOf), med(late, heapOf), med(early, grOf), med(late, grOf))
	for _, r := range reasons {
		t.Logf("SOAK session not saved: %s", r)
	}
	mu.Unlock()
	if maxRSS > 40 {
		t.Errorf("resident memory reached %.1f MB, over the 40 MB budget", maxRSS)
	}
	if g := med(late, rssOf) - med(early, rssOf); g > 4 {
		t.Errorf("resident memory grew by %.1f MB between the first and the last tenth of the run", g)
	}
	if g := med(late, heapOf) - med(early, heapOf); g > 2 {
		t.Errorf("Go heap in use grew by %.1f MB between the first and the last tenth of the run", g)
	}
	if g := med(late, grOf) - med(early, grOf); g > 2 {
		t.Errorf("goroutines grew by %.0f", g)
	}
}

// procRSS returns a process's resident memory in MB (Linux).
func procRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// goMetrics reads the Go heap in use (MB) and the goroutines from
// kioskd's /metrics.
func goMetrics(base string) (heapMB float64, goroutines int) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			heapMB = v / (1 << 20)
		case "go_goroutines":
			goroutines = int(v)
		}
	}
	return heapMB, goroutines
}
