package token

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func indexes(keys []Key) []int {
	var out []int
	for _, k := range keys {
		out = append(out, k.Index)
	}
	return out
}

func TestRepositoryLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity", "token-keys")
	repo, err := OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(repo.Keys()); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("new repository keys = %v, want staged 0 and primary 1", got)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o, want 0700", st.Mode().Perm())
	}
	checkFiles := func(want []int) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, e := range entries {
			if e.Name() == lockFile {
				continue
			}
			i, err := strconv.Atoi(e.Name())
			if err != nil {
				t.Errorf("unexpected file %s in the repository", e.Name())
				continue
			}
			got = append(got, i)
			info, _ := e.Info()
			if info.Mode().Perm() != 0o600 {
				t.Errorf("key file %s mode %04o, want 0600", e.Name(), info.Mode().Perm())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("key files %v, want %v", got, want)
		}
	}
	checkFiles([]int{0, 1})

	staged := repo.Keys()[0]
	if err := repo.Rotate(); err != nil {
		t.Fatal(err)
	}
	keys := repo.Keys()
	if got := indexes(keys); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("after one rotation keys = %v", got)
	}
	if keys[2].Secret != staged.Secret || keys[2].ID() != staged.ID() {
		t.Fatal("the staged key did not become the primary")
	}
	for range 3 {
		if err := repo.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if got := indexes(repo.Keys()); !slices.Equal(got, []int{0, 4, 5}) {
		t.Fatalf("after four rotations keys = %v, want [0 4 5]", got)
	}
	checkFiles([]int{0, 4, 5})

	// Reopening reads the same keys back.
	again, err := OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Keys(), repo.Keys()) {
		t.Fatal("reopened repository holds different keys")
	}
}

func TestRepositoryMaxActive(t *testing.T) {
	repo, err := OpenRepository(t.TempDir(), WithMaxActive(5))
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if err := repo.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if got := indexes(repo.Keys()); !slices.Equal(got, []int{0, 4, 5, 6, 7}) {
		t.Fatalf("keys = %v, want [0 4 5 6 7]", got)
	}
}

func TestRepositoryRefusesLooseOrBadKeys(t *testing.T) {
	t.Run("group-readable key", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := OpenRepository(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "1"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenRepository(dir)
		if err == nil || !strings.Contains(err.Error(), "mode") {
			t.Fatalf("OpenRepository with a 0644 key = %v, want a mode error", err)
		}
	})
	t.Run("not a key", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0"), []byte("short\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenRepository(dir); err == nil {
			t.Fatal("OpenRepository accepted a malformed key file")
		}
	})
	t.Run("keystone-style padded key and stray files", func(t *testing.T) {
		dir := t.TempDir()
		key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		if err := os.WriteFile(filepath.Join(dir, "7"), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hi"), 0o644); err != nil {
			t.Fatal(err)
		}
		repo, err := OpenRepository(dir)
		if err != nil {
			t.Fatal(err)
		}
		keys := repo.Keys()
		if got := indexes(keys); !slices.Equal(got, []int{7}) {
			t.Fatalf("keys = %v, want [7]", got)
		}
		if keys[0].Secret[31] != 31 {
			t.Fatal("key decoded wrongly")
		}
		if err := repo.Rotate(); err != nil {
			t.Fatal(err)
		}
		if got := indexes(repo.Keys()); !slices.Equal(got, []int{0, 7}) {
			t.Fatalf("after rotating a repository without a staged key: %v, want [0 7]", got)
		}
	})
}

func TestConcurrentRotations(t *testing.T) {
	dir := t.TempDir()
	repos := make([]*KeyRepository, 4)
	for i := range repos {
		r, err := OpenRepository(dir, WithMaxActive(100))
		if err != nil {
			t.Fatal(err)
		}
		repos[i] = r
	}
	errs := make(chan error, len(repos)*5)
	for _, r := range repos {
		go func() {
			for range 5 {
				errs <- r.Rotate()
			}
		}()
	}
	for range len(repos) * 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := repos[0].Reload(); err != nil {
		t.Fatal(err)
	}
	want := []int{0}
	for i := 1; i <= 21; i++ {
		want = append(want, i)
	}
	if got := indexes(repos[0].Keys()); !slices.Equal(got, want) {
		t.Fatalf("after 20 concurrent rotations keys = %v, want 0..21", got)
	}
}
