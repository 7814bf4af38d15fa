package node

import "sync"

// pipeline holds the messages between paho's handler and the writer: each
// job waits in toVerify for a verify worker and, in arrival order, in
// toWrite for the writer. paho's handler appends without blocking and the
// workers and the writer take straight from here, so a message changes
// goroutines only where work is done on it.
type pipeline struct {
	mu       sync.Mutex
	toVerify []*job
	toWrite  []*job
	closed   bool
	verify   chan struct{} // a job waits for a worker; closed by close
	write    chan struct{} // a job waits for the writer; closed by close
}

func newPipeline() *pipeline {
	return &pipeline{verify: make(chan struct{}, 1), write: make(chan struct{}, 1)}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put queues j; it never blocks. After close it drops j and returns false:
// the message is not acknowledged and comes again.
func (p *pipeline) put(j *job) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.toVerify = append(p.toVerify, j)
	p.toWrite = append(p.toWrite, j)
	// Woken under the lock: close closes these channels, and a send on a
	// closed channel panics even in a select with a default.
	wake(p.verify)
	wake(p.write)
	p.mu.Unlock()
	return true
}

// close stops put; the workers verify and the writer stores what is queued,
// then they return.
func (p *pipeline) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.verify)
		close(p.write)
	}
}

// takeVerify returns the next job to verify, or nil; done is true when the
// pipeline is closed and nothing is left to verify.
func (p *pipeline) takeVerify() (j *job, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.toVerify) == 0 {
		return nil, p.closed
	}
	j = p.toVerify[0]
	p.toVerify[0] = nil
	p.toVerify = p.toVerify[1:]
	if len(p.toVerify) > 0 && !p.closed {
		wake(p.verify) // another worker may start on the next one
	}
	return j, false
}

// takeWrite returns up to max jobs in arrival order, or none; done is true
// when the pipeline is closed and nothing is left to write.
func (p *pipeline) takeWrite(max int) (batch []*job, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(len(p.toWrite), max)
	if n == 0 {
		return nil, p.closed
	}
	batch = append([]*job(nil), p.toWrite[:n]...)
	clear(p.toWrite[:n])
	p.toWrite = p.toWrite[n:]
	return batch, false
}

// verifyLoop is a verify worker.
func (n *Node) verifyLoop(p *pipeline) {
	for {
		j, done := p.takeVerify()
		switch {
		case j != nil:
			n.verify(j)
		case done:
			return
		default:
			<-p.verify
		}
	}
}
