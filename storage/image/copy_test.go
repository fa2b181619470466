package image

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestHashCopy(t *testing.T) {
	data := make([]byte, 3*chunkSize+12345)
	_, _ = rand.Read(data)
	m, s := md5.Sum(data), sha512.Sum512(data)
	for _, tc := range []struct {
		name    string
		size    int
		limit   int64
		wantErr bool
	}{
		{"empty", 0, -1, false},
		{"small", 100, -1, false},
		{"exact chunks", 2 * chunkSize, -1, false},
		{"many chunks", len(data), -1, false},
		{"at the limit", len(data), int64(len(data)), false},
		{"over the limit", len(data), int64(len(data)) - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			d, err := hashCopy(&out, bytes.NewReader(data[:tc.size]), tc.limit)
			if tc.wantErr {
				var qe errQuotaStream
				if !errors.As(err, &qe) {
					t.Fatalf("err = %v, want errQuotaStream", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.size == len(data) && (d.md5 != hex.EncodeToString(m[:]) || d.sha512 != hex.EncodeToString(s[:])) {
				t.Fatal("wrong digests")
			}
			if d.n != int64(tc.size) || !bytes.Equal(out.Bytes(), data[:tc.size]) {
				t.Fatalf("copied %d bytes (%d in buffer), want %d", d.n, out.Len(), tc.size)
			}
		})
	}
	t.Run("write error", func(t *testing.T) {
		_, err := hashCopy(&failingWriter{after: chunkSize}, bytes.NewReader(data), -1)
		if err == nil || err.Error() != "disk full" {
			t.Fatalf("err = %v, want disk full", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		r := io.MultiReader(bytes.NewReader(data[:5000]), iotestErr{})
		if _, err := hashCopy(io.Discard, r, -1); err == nil {
			t.Fatal("a failing reader copied without error")
		}
	})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h          string
		start, end int64
		ok         bool
	}{
		{"bytes=0-9", 0, 9, true},
		{"bytes=10-", 10, 99, true},
		{"bytes=-10", 90, 99, true},
		{"bytes=50-500", 50, 99, true},
		{"bytes=100-", 0, 0, false},
		{"bytes=9-3", 0, 0, false},
		{"bytes=0-1,5-6", 0, 0, false},
		{"items=0-1", 0, 0, false},
		{"bytes=x-1", 0, 0, false},
	} {
		start, end, ok := parseRange(tc.h, 100)
		if ok != tc.ok || (ok && (start != tc.start || end != tc.end)) {
			t.Errorf("parseRange(%q) = %d, %d, %v; want %d, %d, %v", tc.h, start, end, ok, tc.start, tc.end, tc.ok)
		}
	}
}
