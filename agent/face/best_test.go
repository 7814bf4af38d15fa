package face

import (
	"context"
	"errors"
	"image"
	"io"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// scriptedCamera plays frames at a fixed rate on a fake clock: each Next
// advances the clock by the frame period, then returns the next frame.
// After the script it returns end (io.EOF, an error), or blocks until ctx
// is done when end is nil, signalling blocked first.
type scriptedCamera struct {
	clk     *clock.Fake
	period  time.Duration
	frames  []image.Image
	end     error
	blocked chan struct{}
	calls   int
}

func (c *scriptedCamera) Next(ctx context.Context) (image.Image, error) {
	c.calls++
	if len(c.frames) == 0 {
		if c.end != nil {
			return nil, c.end
		}
		if c.blocked != nil {
			close(c.blocked)
			c.blocked = nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c.clk.Advance(c.period)
	img := c.frames[0]
	c.frames = c.frames[1:]
	return img, nil
}

func TestBest(t *testing.T) {
	good := kioskFrame(t)
	blurred := gaussianBlur(good, 3)
	empty := image.NewRGBA(image.Rect(0, 0, 640, 480))
	cameraErr := errors.New("usb: device disconnected")
	tests := []struct {
		name       string
		frames     []image.Image
		end        error
		budget     time.Duration
		wantFrames int
		wantAccept bool
		wantFace   bool
		wantErr    error
	}{
		{"stops early at a good frame", []image.Image{empty, blurred, good, good, good}, io.EOF, 5 * time.Second, 3, true, true, nil},
		{"keeps the best when none is good", []image.Image{empty, blurred, empty}, io.EOF, 5 * time.Second, 3, false, true, nil},
		{"budget ends the search", []image.Image{empty, empty, empty, good}, io.EOF, 250 * time.Millisecond, 2, false, false, nil},
		{"end of stream without frames", nil, io.EOF, time.Second, 0, false, false, ErrNoFrame},
		{"camera error", []image.Image{blurred}, cameraErr, time.Second, 1, false, true, cameraErr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Time{})
			p := newPipeline(t, &Options{Clock: clk})
			cam := &scriptedCamera{clk: clk, period: 100 * time.Millisecond, frames: tc.frames, end: tc.end}
			seen := 0
			best, n, err := p.Best(context.Background(), cam, tc.budget, func(*Assessment) { seen++ })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Best error = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Best error = %v", err)
			}
			if n != tc.wantFrames || seen != n {
				t.Errorf("Best assessed %d frames (callback saw %d), want %d", n, seen, tc.wantFrames)
			}
			if best.Accept != tc.wantAccept || (len(best.Faces) > 0) != tc.wantFace {
				t.Errorf("best: accept %v, %d faces; want accept %v, face %v (reasons %v)", best.Accept, len(best.Faces), tc.wantAccept, tc.wantFace, best.Reasons)
			}
			if tc.wantAccept && best.Image != good {
				t.Errorf("best frame is not the good one")
			}
		})
	}
}

func TestBestBudgetInterruptsWaiting(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	p := newPipeline(t, &Options{Clock: clk})
	blocked := make(chan struct{})
	cam := &scriptedCamera{clk: clk, period: 100 * time.Millisecond, frames: []image.Image{gaussianBlur(kioskFrame(t), 3)}, blocked: blocked}
	type result struct {
		a   Assessment
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, n, err := p.Best(context.Background(), cam, 2*time.Second, nil)
		done <- result{a, n, err}
	}()
	<-blocked // the camera stalls after one frame
	clk.Advance(2 * time.Second)
	select {
	case r := <-done:
		if r.err != nil || r.n != 1 || len(r.a.Faces) != 1 {
			t.Fatalf("Best = %d frames, %d faces, %v; want the one frame and no error", r.n, len(r.a.Faces), r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Best did not return when the budget ran out while the camera stalled")
	}
}

func TestBestContextCancelled(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	p := newPipeline(t, &Options{Clock: clk})
	blocked := make(chan struct{})
	cam := &scriptedCamera{clk: clk, period: 100 * time.Millisecond, blocked: blocked}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := p.Best(ctx, cam, time.Minute, nil)
		done <- err
	}()
	<-blocked
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Best = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Best did not return when its context was cancelled")
	}
}

func TestBestBadBudget(t *testing.T) {
	p := newPipeline(t, nil)
	if _, _, err := p.Best(context.Background(), ChanSource(nil), 0, nil); !errors.Is(err, ErrNoFrame) {
		t.Fatalf("Best(budget 0) = %v, want ErrNoFrame", err)
	}
}

func TestChanSource(t *testing.T) {
	ch := make(chan image.Image, 2)
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	ch <- img
	close(ch)
	src := ChanSource(ch)
	if got, err := src.Next(context.Background()); err != nil || got != img {
		t.Fatalf("Next = %v, %v; want the frame", got, err)
	}
	if _, err := src.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next on a closed channel = %v, want io.EOF", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ChanSource(make(chan image.Image)).Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context = %v, want context.Canceled", err)
	}
}
