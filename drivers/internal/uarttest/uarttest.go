// Package uarttest is a scripted UART peer for driver playback tests. A
// Playback stands in for a serial port: every byte the driver writes must
// match the script, the peer answers with the scripted reply, a read with
// nothing left to read is a timeout, and Close fails if any scripted
// transaction never happened. It plays the role periph's conntest.Playback
// plays for SPI and I2C, for drivers that take an io.ReadWriter.
package uarttest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Op is one scripted transaction. Exactly one kind applies:
//   - W non-empty: the driver must write exactly W; the peer then makes R
//     readable.
//   - W empty, Baud zero, Flush false: the peer sends R unprompted as soon as
//     the previous op is done (a power-on byte, a late reply, line noise).
//   - Baud non-zero: the driver must call SetBaudRate(Baud).
//   - Flush: the driver must call ResetInputBuffer; unread bytes are dropped.
type Op struct {
	W     []byte
	R     []byte
	Baud  int
	Flush bool
}

// Playback is a scripted serial peer. Its zero value with Ops set is ready.
// A Read returns whatever scripted replies are pending; with nothing pending
// it returns 0, nil at once, which is how go.bug.st/serial reports an expired
// read timeout. It is safe for concurrent use.
type Playback struct {
	Ops []Op
	// Count is how many Ops were consumed.
	Count int
	// BaudRate is the speed last set with SetBaudRate.
	BaudRate int
	// Timeouts records every SetReadTimeout argument, in order.
	Timeouts []time.Duration

	mu      sync.Mutex
	pending []byte // written, not yet matched
	out     []byte // readable
	err     error  // first protocol violation
}

// Read copies pending reply bytes into p; with none pending it reports an
// expired timeout as 0, nil.
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseUnprompted()
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

// Write matches b against the script.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, p.err
	}
	p.releaseUnprompted()
	p.pending = append(p.pending, b...)
	for len(p.pending) > 0 {
		if p.Count >= len(p.Ops) {
			return 0, p.fail("unexpected write % X after the script ended (%d ops)", p.pending, len(p.Ops))
		}
		op := p.Ops[p.Count]
		if len(op.W) == 0 {
			return 0, p.fail("op %d: wrote % X, want %s", p.Count, p.pending, describe(op))
		}
		k := min(len(p.pending), len(op.W))
		if !bytes.Equal(p.pending[:k], op.W[:k]) {
			return 0, p.fail("op %d: wrote % X, want % X", p.Count, p.pending, op.W)
		}
		if k < len(op.W) {
			break // the rest of the command may come in a later Write
		}
		p.pending = p.pending[k:]
		p.out = append(p.out, op.R...)
		p.Count++
		p.releaseUnprompted()
	}
	return len(b), nil
}

// SetReadTimeout records d.
func (p *Playback) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Timeouts = append(p.Timeouts, d)
	return nil
}

// SetBaudRate must match a scripted Baud op.
func (p *Playback) SetBaudRate(baud int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.releaseUnprompted()
	if p.Count >= len(p.Ops) || p.Ops[p.Count].Baud != baud {
		return p.fail("op %d: SetBaudRate(%d), want %s", p.Count, baud, p.next())
	}
	p.BaudRate = baud
	p.Count++
	p.releaseUnprompted()
	return nil
}

// ResetInputBuffer drops unread bytes. It must match a scripted Flush op.
func (p *Playback) ResetInputBuffer() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.releaseUnprompted()
	if p.Count >= len(p.Ops) || !p.Ops[p.Count].Flush {
		return p.fail("op %d: ResetInputBuffer(), want %s", p.Count, p.next())
	}
	p.out = nil
	p.Count++
	p.releaseUnprompted()
	return nil
}

// Close reports the first protocol violation, or an error if scripted ops
// remain or a partial write was left unmatched.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if len(p.pending) > 0 {
		return fmt.Errorf("uarttest: partial write % X left unmatched at op %d", p.pending, p.Count)
	}
	if p.Count < len(p.Ops) {
		return fmt.Errorf("uarttest: expected playback to be empty: %d of %d ops done, next %s", p.Count, len(p.Ops), describe(p.Ops[p.Count]))
	}
	return nil
}

// releaseUnprompted makes the replies of leading unprompted ops readable.
func (p *Playback) releaseUnprompted() {
	for p.Count < len(p.Ops) {
		op := p.Ops[p.Count]
		if len(op.W) != 0 || op.Baud != 0 || op.Flush {
			return
		}
		p.out = append(p.out, op.R...)
		p.Count++
	}
}

func (p *Playback) next() string {
	if p.Count >= len(p.Ops) {
		return "end of script"
	}
	return describe(p.Ops[p.Count])
}

func (p *Playback) fail(format string, args ...any) error {
	p.err = errors.New("uarttest: " + fmt.Sprintf(format, args...))
	return p.err
}

func describe(op Op) string {
	switch {
	case op.Baud != 0:
		return fmt.Sprintf("SetBaudRate(%d)", op.Baud)
	case op.Flush:
		return "ResetInputBuffer()"
	case len(op.W) == 0:
		return fmt.Sprintf("unprompted reply % X", op.R)
	}
	return fmt.Sprintf("write % X", op.W)
}
