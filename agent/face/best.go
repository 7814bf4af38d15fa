package face

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"time"
)

// FrameSource yields camera frames. Next blocks until a frame is ready or
// ctx is done; it returns io.EOF when the stream has ended. The frame
// returned belongs to the caller: a source that reuses its buffers must
// copy.
type FrameSource interface {
	Next(ctx context.Context) (image.Image, error)
}

// ChanSource adapts a channel of frames to a FrameSource; a closed channel
// is the end of the stream.
type ChanSource <-chan image.Image

// Next returns the next frame of the channel.
func (c ChanSource) Next(ctx context.Context) (image.Image, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case img, ok := <-c:
		if !ok {
			return nil, io.EOF
		}
		return img, nil
	}
}

// Best assesses frames from src until one is good enough (accepted with
// Quality at least Options.GoodScore), the budget on the pipeline's clock
// runs out, or the stream ends, and returns the best assessment (see
// Assessment.Better) with its frame in Image, and the number of frames
// assessed. A frame that arrives when the budget is spent is not assessed.
//
// onFrame, when not nil, is called with every assessment as it is made, so
// the kiosk can show the traveller what to change; it runs on Best's
// goroutine and should return quickly.
//
// Running out of budget is not an error: the best frame so far is returned
// (check Accept). Errors: ErrNoFrame when no frame came at all; ctx's error
// when ctx ends first; a wrapped source error when the camera fails. In
// the last two cases the best assessment so far is returned too.
func (p *Pipeline) Best(ctx context.Context, src FrameSource, budget time.Duration, onFrame func(*Assessment)) (Assessment, int, error) {
	if budget <= 0 {
		return Assessment{}, 0, fmt.Errorf("face: time budget %v for the best frame must be positive: %w", budget, ErrNoFrame)
	}
	start := p.clk.Now()
	// The budget also interrupts a source blocked waiting for a frame: a
	// watcher cancels the source's context when the timer fires. It is
	// owned by this call and stopped before returning.
	srcCtx, cancel := context.WithCancel(ctx)
	timer := p.clk.NewTimer(budget)
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-timer.C():
			cancel()
		case <-srcCtx.Done():
		}
	}()
	defer func() {
		cancel()
		<-watcher
		timer.Stop()
	}()

	var best Assessment
	frames := 0
	for p.clk.Since(start) < budget {
		img, err := src.Next(srcCtx)
		if err != nil {
			if ctx.Err() != nil {
				return best, frames, fmt.Errorf("face: best frame search stopped after %d frames: %w", frames, ctx.Err())
			}
			if srcCtx.Err() != nil || errors.Is(err, io.EOF) {
				break // budget spent, or the stream ended
			}
			return best, frames, fmt.Errorf("face: camera failed after %d frames (check the camera and its connection): %w", frames, err)
		}
		if p.clk.Since(start) >= budget {
			break
		}
		frames++
		a := p.Assess(img)
		if onFrame != nil {
			onFrame(&a)
		}
		if frames == 1 || a.Better(&best) {
			best = a
		}
		if a.Accept && a.Quality >= p.opts.GoodScore {
			break
		}
	}
	if frames == 0 {
		return best, 0, fmt.Errorf("face: no frame from the camera within %v (check the camera): %w", budget, ErrNoFrame)
	}
	return best, frames, nil
}
