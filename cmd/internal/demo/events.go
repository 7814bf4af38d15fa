package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/capture"
)

// FollowEvents reads the capture events of the kiosk whose HTTP address is
// base ("http://127.0.0.1:8480") from its officer API, starting after event
// after (0: every event the kiosk still holds), and calls fn with each, in
// order, until ctx ends (it returns nil then). A dropped stream is opened
// again where it stopped; missed reports events the kiosk no longer held.
func FollowEvents(ctx context.Context, base string, after uint64, fn func(capture.Event), missed func(n int)) error {
	client := &http.Client{}
	for {
		// A dropped or refused stream is opened again: the kiosk may be
		// busy starting.
		after, _ = followOnce(ctx, client, base, after, fn, missed)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func followOnce(ctx context.Context, client *http.Client, base string, after uint64, fn func(capture.Event), missed func(int)) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/events?after=%d", base, after), nil)
	if err != nil {
		return after, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return after, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return after, fmt.Errorf("demo: GET events: %s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var kind, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			kind = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		case line == "":
			switch {
			case kind == "missed" && missed != nil:
				var m struct{ Missed int }
				if json.Unmarshal([]byte(data), &m) == nil {
					missed(m.Missed)
				}
			case kind != "" && data != "":
				var e capture.Event
				if err := json.Unmarshal([]byte(data), &e); err == nil {
					fn(e)
					after = e.Seq
				}
			}
			kind, data = "", ""
		}
	}
	return after, sc.Err()
}

// WaitReady polls base/readyz until the kiosk is ready or ctx ends.
func WaitReady(ctx context.Context, base string) error {
	var last string
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: kioskd is not ready (%s): %w", last, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
