package image

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"
)

// chunkSize is the unit image data moves in; chunks is how many are in
// flight between the reader, the two hashes and the writer.
const (
	chunkSize = 1 << 20
	chunks    = 4
)

// digest is what streaming computed over the data.
type digest struct {
	n      int64
	md5    string
	sha512 string
}

type chunk struct {
	buf []byte
	n   int
	wg  sync.WaitGroup
}

// hashCopy copies r to w while computing MD5 and SHA-512, each hash and
// the write running on their own goroutine so that a large upload is not
// bound by one core; limit (-1: none) caps the bytes accepted, failing with
// errQuotaStream past it. Every goroutine has ended when it returns.
func hashCopy(w io.Writer, r io.Reader, limit int64) (digest, error) {
	sinks := []struct {
		ch  chan *chunk
		out io.Writer
	}{
		{make(chan *chunk, chunks), md5.New()},
		{make(chan *chunk, chunks), sha512.New()},
		{make(chan *chunk, chunks), w},
	}
	var (
		mu       sync.Mutex
		writeErr error
		workers  sync.WaitGroup
	)
	for _, s := range sinks {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for c := range s.ch {
				mu.Lock()
				failed := writeErr != nil
				mu.Unlock()
				if !failed {
					if _, err := s.out.Write(c.buf[:c.n]); err != nil {
						mu.Lock()
						writeErr = errors.Join(writeErr, err)
						mu.Unlock()
					}
				}
				c.wg.Done()
			}
		}()
	}
	ring := make([]*chunk, chunks)
	for i := range ring {
		ring[i] = &chunk{buf: make([]byte, chunkSize)}
	}
	var (
		d       digest
		readErr error
	)
	for i := 0; ; i++ {
		c := ring[i%chunks]
		c.wg.Wait() // the sinks are done with this buffer's last use
		mu.Lock()
		failed := writeErr != nil
		mu.Unlock()
		if failed {
			break
		}
		n, err := io.ReadFull(r, c.buf)
		if n > 0 {
			if limit >= 0 && d.n+int64(n) > limit {
				readErr = errQuotaStream{limit: limit}
				break
			}
			d.n += int64(n)
			c.n = n
			c.wg.Add(len(sinks))
			for _, s := range sinks {
				s.ch <- c
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	for _, s := range sinks {
		close(s.ch)
	}
	workers.Wait()
	if err := errors.Join(readErr, writeErr); err != nil {
		return d, err
	}
	d.md5 = hex.EncodeToString(sinks[0].out.(hash.Hash).Sum(nil))
	d.sha512 = hex.EncodeToString(sinks[1].out.(hash.Hash).Sum(nil))
	return d, nil
}

// bigCopy serves a download with large writes: gin's writer has no
// ReadFrom, and io.Copy's default 32 KiB buffer costs a syscall per buffer.
type bigCopy struct{ r io.Reader }

func (b bigCopy) Read(p []byte) (int, error) { return b.r.Read(p) }

// WriteTo implements io.WriterTo, which io.Copy prefers.
func (b bigCopy) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(w, struct{ io.Reader }{b.r}, make([]byte, chunkSize))
}
