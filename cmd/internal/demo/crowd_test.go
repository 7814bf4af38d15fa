package demo

import (
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/capture"
)

func started(session string, fingers ...string) capture.Event {
	return capture.Event{Kind: capture.KindStarted, Session: session, Started: &capture.StartedInfo{Trigger: "presence", Fingers: fingers}}
}

func prompt(session, finger string) capture.Event {
	return capture.Event{Kind: capture.KindPrompt, Session: session, Finger: &capture.FingerInfo{Position: finger, Attempt: 1}}
}

func ended(session string, o capture.Outcome) capture.Event {
	return capture.Event{Kind: capture.KindEnded, Session: session, Ended: &capture.EndedInfo{Outcome: o}}
}

func TestCrowd(t *testing.T) {
	c, err := NewCrowd(2028, 1, 2) // everyone after the first is a returning traveller
	if err != nil {
		t.Fatal(err)
	}
	defer c.Wait()
	if _, err := c.NextFinger(); !errors.Is(err, errNoFinger) {
		t.Errorf("NextFinger with nothing placed = %v, want errNoFinger", err)
	}
	v := c.Handle(started("s1", "right_index"))
	if v == nil || v.N != 1 || v.Identity != 1 || v.Returning {
		t.Fatalf("first arrival = %+v, want traveller 1, identity 1, new", v)
	}
	c.Handle(prompt("s1", "right_index"))
	img, err := c.NextFinger()
	if err != nil || img.Bounds().Dx() != 256 || img.Bounds().Dy() != 288 {
		t.Fatalf("placed finger = %v %v, want a 256x288 R30x image", img, err)
	}
	if _, err := c.NextFinger(); !errors.Is(err, errNoFinger) {
		t.Errorf("a placed finger was taken twice: %v", err)
	}
	if got := len(v.Placed[2]); got != 1 {
		t.Errorf("ground truth holds %d impressions of the right index, want 1", got)
	}
	// A failed session brings the same traveller back.
	c.Handle(ended("s1", capture.OutcomeTimedOut))
	if again := c.Handle(started("s2", "right_index")); again != v || len(v.Sessions) != 2 {
		t.Fatalf("after a failed session the next arrival is %+v, want traveller 1 again", again)
	}
	c.Handle(prompt("s2", "right_index"))
	c.Handle(ended("s2", capture.OutcomeSaved))
	if _, err := c.NextFinger(); !errors.Is(err, errNoFinger) {
		t.Error("a finger stayed placed after the session ended")
	}
	w := c.Handle(started("s3", "right_index"))
	if w == nil || w.N != 2 || !w.Returning || w.Identity != 1 || w.Seed != v.Seed {
		t.Fatalf("second traveller = %+v, want a return of identity 1", w)
	}
	c.Handle(ended("s3", capture.OutcomeSaved))
	if x := c.Handle(started("s4", "right_index")); x != nil {
		t.Errorf("an arrival past the limit = %+v, want nobody", x)
	}
	if c.Visit("s3") != w || c.Visit("s4") != nil || len(c.Visits()) != 2 {
		t.Error("visits by session are wrong")
	}
}

func TestCrowdIdentitiesAreReproducible(t *testing.T) {
	a, _ := NewCrowd(7, 0.5, 0)
	b, _ := NewCrowd(7, 0.5, 0)
	defer a.Wait()
	defer b.Wait()
	for i, s := range []string{"a", "b", "c", "d", "e", "f"} {
		va, vb := a.Handle(started(s)), b.Handle(started(s))
		if va.Seed != vb.Seed || va.Returning != vb.Returning {
			t.Errorf("arrival %d: seed %x/%x returning %v/%v; the same crowd seed must bring the same travellers", i, va.Seed, vb.Seed, va.Returning, vb.Returning)
		}
		a.Handle(ended(s, capture.OutcomeSaved))
		b.Handle(ended(s, capture.OutcomeSaved))
	}
}

func TestFramePortrait(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.png")
	if err := FramePortrait("../../../agent/face/testdata/astronaut.png", out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != PortraitFrame.Dx() || b.Dy() != PortraitFrame.Dy() {
		t.Errorf("framed portrait is %v, want %dx%d", b, PortraitFrame.Dx(), PortraitFrame.Dy())
	}
	if err := FramePortrait("no-such-file.png", out); err == nil {
		t.Error("a missing portrait gave no error")
	}
}
