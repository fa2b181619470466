package backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func newTestFile(t *testing.T) *File {
	t.Helper()
	f, err := NewFile(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	return f
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// put writes data for id in several chunks and commits it.
func put(t *testing.T, d Driver, id string, data []byte) {
	t.Helper()
	u, err := d.Create(context.Background(), id)
	if err != nil {
		t.Fatalf("Create(%s): %v", id, err)
	}
	for chunk := range slices.Chunk(data, 4096) {
		if _, err := u.Write(chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := u.Commit(); err != nil {
		t.Fatalf("Commit(%s): %v", id, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	const id = "0b6c3f1e-4a53-4f8e-9d2c-0f3a6b1f9e21"
	data := randomBytes(t, 1<<20+123)

	u, err := f.Create(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data); err != nil {
		t.Fatal(err)
	}
	staged, err := os.ReadFile(u.StagedPath())
	if err != nil || !bytes.Equal(staged, data) {
		t.Fatalf("staged file does not hold the written bytes (err %v)", err)
	}
	if _, err := f.Open(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open before Commit: got %v, want ErrNotFound", err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := u.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if _, err := u.Write([]byte("x")); !errors.Is(err, ErrUploadClosed) {
		t.Fatalf("Write after Commit: got %v, want ErrUploadClosed", err)
	}
	if got := dirNames(t, filepath.Join(f.Dir(), "staging")); len(got) != 0 {
		t.Fatalf("staging not empty after Commit: %v", got)
	}

	obj, err := f.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", obj.Size(), len(data))
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back differs (err %v)", err)
	}
	off := int64(len(data) - 1000)
	if pos, err := obj.Seek(off, io.SeekStart); err != nil || pos != off {
		t.Fatalf("Seek = %d, %v", pos, err)
	}
	tail, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(tail, data[off:]) {
		t.Fatalf("read after seek differs (err %v)", err)
	}

	p, ok := f.LocalPath(id)
	if !ok {
		t.Fatal("LocalPath not reported for file driver")
	}
	onDisk, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("LocalPath %s does not hold the data (err %v)", p, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("committed data mode = %v, %v; want 0600", st.Mode(), err)
	}
	if f.Name() != "file" {
		t.Fatalf("Name = %q", f.Name())
	}
}

func TestFileEmptyImage(t *testing.T) {
	f := newTestFile(t)
	put(t, f, "empty", nil)
	obj, err := f.Open(context.Background(), "empty")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != 0 {
		t.Fatalf("Size = %d", obj.Size())
	}
}

func TestFileAbort(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	u, err := f.Create(ctx, "img1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(randomBytes(t, 10000)); err != nil {
		t.Fatal(err)
	}
	if err := u.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := u.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if err := u.Commit(); !errors.Is(err, ErrUploadClosed) {
		t.Fatalf("Commit after Abort: got %v, want ErrUploadClosed", err)
	}
	for _, sub := range []string{"data", "staging"} {
		if got := dirNames(t, filepath.Join(f.Dir(), sub)); len(got) != 0 {
			t.Fatalf("%s not empty after Abort: %v", sub, got)
		}
	}
	if _, err := f.Open(ctx, "img1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Abort: got %v, want ErrNotFound", err)
	}
}

func TestFileDelete(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	put(t, f, "img1", []byte("committed"))
	// An unfinished second upload of the same id and an upload of another id.
	pending, err := f.Create(ctx, "img1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pending.Write([]byte("pending")); err != nil {
		t.Fatal(err)
	}
	put(t, f, "img10", []byte("other image"))

	if err := f.Delete(ctx, "img1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Open(ctx, "img1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: got %v, want ErrNotFound", err)
	}
	if got := dirNames(t, filepath.Join(f.Dir(), "staging")); len(got) != 0 {
		t.Fatalf("staging not empty after Delete: %v", got)
	}
	if err := pending.Commit(); err == nil {
		t.Fatal("Commit of an upload deleted underneath succeeded")
	}
	if _, err := f.Open(ctx, "img1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted upload became readable: %v", err)
	}
	// The id sharing a prefix is untouched.
	obj, err := f.Open(ctx, "img10")
	if err != nil {
		t.Fatalf("Delete(img1) touched img10: %v", err)
	}
	obj.Close()
	if err := f.Delete(ctx, "img1"); err != nil {
		t.Fatalf("Delete of absent data: %v", err)
	}
	if err := f.Delete(ctx, "never-existed"); err != nil {
		t.Fatalf("Delete of absent data: %v", err)
	}
}

func TestFileInvalidIDs(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	for _, id := range []string{"", ".", "..", "../etc", "a/b", `a\b`, "/abs", "a.b", "a b", "-leading", "a\x00b", string(make([]byte, 200))} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			if _, err := f.Create(ctx, id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Create: got %v, want ErrInvalidID", err)
			}
			if _, err := f.Open(ctx, id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Open: got %v, want ErrInvalidID", err)
			}
			if err := f.Delete(ctx, id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Delete: got %v, want ErrInvalidID", err)
			}
			if p, ok := f.LocalPath(id); ok || p != "" {
				t.Errorf("LocalPath = %q, %v", p, ok)
			}
		})
	}
}

func TestFileConcurrentUploads(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	const n = 16
	want := make([][]byte, n)
	for i := range want {
		want[i] = randomBytes(t, 64<<10+i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("img-%02d", i)
			u, err := f.Create(ctx, id)
			if err != nil {
				errs <- err
				return
			}
			for chunk := range slices.Chunk(want[i], 1000) {
				if _, err := u.Write(chunk); err != nil {
					errs <- err
					return
				}
			}
			if err := u.Commit(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		obj, err := f.Open(ctx, fmt.Sprintf("img-%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("image %d differs (err %v)", i, err)
		}
	}
}

func TestFileStaleStaging(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "images")
	f, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(dir, "staging")

	// Sweep removes only staging files older than StaleAfter.
	old, err := f.Create(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := f.Create(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-StaleAfter - time.Minute)
	if err := os.Chtimes(old.StagedPath(), past, past); err != nil {
		t.Fatal(err)
	}
	if err := f.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.StagedPath()); !os.IsNotExist(err) {
		t.Fatalf("stale staging file survived Sweep: %v", err)
	}
	if _, err := os.Stat(fresh.StagedPath()); err != nil {
		t.Fatalf("fresh staging file removed by Sweep: %v", err)
	}
	if _, err := fresh.Write([]byte("still going")); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Commit(); err != nil {
		t.Fatalf("Commit of a fresh upload after Sweep: %v", err)
	}

	// A restart (a crashed process left these behind) clears staging
	// entirely but keeps committed data.
	leftover, err := f.Create(ctx, "crashed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leftover.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staging, "junk.tmp"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f2, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, staging); len(got) != 0 {
		t.Fatalf("staging not cleaned at start: %v", got)
	}
	obj, err := f2.Open(ctx, "fresh")
	if err != nil {
		t.Fatalf("committed data lost at start: %v", err)
	}
	obj.Close()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v; want 0700", st.Mode(), err)
	}
}

func TestFileCommitReplacesAtomically(t *testing.T) {
	ctx := context.Background()
	f := newTestFile(t)
	put(t, f, "img", []byte("first version"))
	reader, err := f.Open(ctx, "img")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	put(t, f, "img", []byte("second"))
	// A reader opened before the replacement keeps seeing whole old data.
	got, err := io.ReadAll(reader)
	if err != nil || string(got) != "first version" {
		t.Fatalf("old reader got %q, %v", got, err)
	}
	obj, err := f.Open(ctx, "img")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got, _ = io.ReadAll(obj)
	if string(got) != "second" {
		t.Fatalf("new reader got %q", got)
	}
}

func TestOpenRegistry(t *testing.T) {
	d, err := Open("file", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "file" {
		t.Fatalf("Name = %q", d.Name())
	}
	if _, err := Open("s3", "bucket"); err == nil {
		t.Fatal("Open of an unknown kind succeeded")
	}
	if _, err := Open("file", ""); err == nil {
		t.Fatal("Open(file, \"\") succeeded")
	}
}
