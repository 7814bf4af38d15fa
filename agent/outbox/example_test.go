package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/bali-rbdes/kiosk/agent/outbox"
)

// The capture workflow appends sealed records; the uplink delivers and
// acknowledges them.
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ob, err := outbox.New(dir, &outbox.Options{MaxBytes: 64 << 20, SegmentBytes: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Capture side: the security layer builds a record that carries its own
	// sequence number and the hash of the record before it, then signs it.
	for i := 0; i < 2; i++ {
		seq, err := ob.AppendWith(ctx, func(seq uint64, prev [32]byte) ([]byte, error) {
			return fmt.Appendf(nil, "sealed record %d (prev %x)", seq, prev[:2]), nil
		})
		if err != nil {
			log.Fatal(err) // errors.Is(err, outbox.ErrFull): stop capturing, tell the officer
		}
		fmt.Println("saved", seq)
	}

	// Uplink side: deliver in order, settle each record.
	d, err := ob.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("deliver %d, attempt %d\n", d.Seq, d.Attempt)
	if err := ob.Ack(d.Seq); err != nil { // the node stored it
		log.Fatal(err)
	}
	d, _ = ob.Next(ctx)
	if err := ob.DeadLetter(d.Seq, "node: REJECTED (signature)"); err != nil {
		log.Fatal(err)
	}

	st := ob.Stats()
	fmt.Println("records waiting:", st.Records, "dead letters:", st.DeadLetters, "next seq:", st.NextSeq)
	if err := ob.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// saved 1
	// saved 2
	// deliver 1, attempt 1
	// records waiting: 0 dead letters: 1 next seq: 3
}
