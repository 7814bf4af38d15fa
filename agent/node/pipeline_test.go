package node

import (
	"sync"
	"testing"
)

// TestPipelinePutRacesClose puts from several goroutines while the
// pipeline closes: no put may panic (a wake on a closed channel), and every
// job put before the close reaches both the workers and the writer, in
// arrival order for the writer.
func TestPipelinePutRacesClose(t *testing.T) {
	for range 50 {
		p := newPipeline()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var accepted []*job
		half := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					j := &job{}
					mu.Lock() // the order jobs are accepted in is the order put serialises them
					ok := p.put(j)
					if ok {
						accepted = append(accepted, j)
						if len(accepted) == 200 {
							close(half)
						}
					}
					mu.Unlock()
					if !ok {
						return
					}
				}
			}()
		}
		verified := make(chan int)
		go func() {
			n := 0
			for {
				j, done := p.takeVerify()
				switch {
				case j != nil:
					n++
				case done:
					verified <- n
					return
				default:
					<-p.verify
				}
			}
		}()
		<-half // close while the puts go on
		p.close()
		wg.Wait()
		var written []*job
		for {
			batch, done := p.takeWrite(7)
			written = append(written, batch...)
			if len(batch) == 0 && done {
				break
			}
		}
		if n := <-verified; n != len(accepted) {
			t.Fatalf("workers took %d jobs, %d were accepted", n, len(accepted))
		}
		if len(written) != len(accepted) {
			t.Fatalf("writer took %d jobs, %d were accepted", len(written), len(accepted))
		}
		for i := range written {
			if written[i] != accepted[i] {
				t.Fatalf("writer took job %d out of arrival order", i)
			}
		}
		if p.put(&job{}) {
			t.Fatal("put after close accepted a job")
		}
	}
}
