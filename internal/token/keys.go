package token

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
)

// KeySize is the length of a token key in bytes (XChaCha20-Poly1305).
const KeySize = 32

// DefaultMaxActive is how many keys a repository keeps by default: the
// staged key, the primary and one secondary, as Keystone's max_active_keys.
const DefaultMaxActive = 3

// lockFile serialises rotations between processes sharing a repository.
const lockFile = ".lock"

// Key is one token key and its place in a repository: index 0 is the staged
// key, the highest index the primary, the others secondaries.
type Key struct {
	// Index is the key's file name in the repository.
	Index int
	// Secret is the key material; it must never be logged.
	Secret [KeySize]byte
}

// ID returns the key id written in tokens: the first four bytes of a SHA-256
// of the secret, so a key keeps its id when the staged key becomes primary.
func (k Key) ID() uint32 {
	h := sha256.New()
	h.Write([]byte("kumo token key id\x00"))
	h.Write(k.Secret[:])
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint32(h.Sum(sum[:0]))
}

// String describes the key without its secret.
func (k Key) String() string {
	return fmt.Sprintf("token key %d (id %08x)", k.Index, k.ID())
}

// GoString describes the key without its secret, for %#v.
func (k Key) GoString() string {
	return k.String()
}

// LogValue logs the key without its secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("index", k.Index), slog.String("id", fmt.Sprintf("%08x", k.ID())))
}

// RepositoryOption configures OpenRepository.
type RepositoryOption func(*KeyRepository)

// WithMaxActive sets how many keys (staged, primary and secondaries) the
// repository keeps; values below 2 mean 2.
func WithMaxActive(n int) RepositoryOption {
	return func(r *KeyRepository) { r.maxActive = max(n, 2) }
}

// KeyRepository is a directory of token keys in the manner of Keystone's
// fernet repository: files named by integer index, mode 0600, in a 0700
// directory.
type KeyRepository struct {
	dir       string
	maxActive int

	mu   sync.Mutex
	keys []Key // ascending by Index
}

// OpenRepository opens the key repository in dir, creating the directory,
// a staged key and a primary key on first use.
func OpenRepository(dir string, opts ...RepositoryOption) (*KeyRepository, error) {
	r := &KeyRepository{dir: dir, maxActive: DefaultMaxActive}
	for _, o := range opts {
		o(r)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: key repository: %w", err)
	}
	// Keys must not be readable by anyone else; tighten a directory made by
	// hand or by an older release.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: key repository: %w", err)
	}
	err := r.locked(syscall.LOCK_EX, func() error {
		keys, err := readKeys(dir)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			// Like keystone-manage fernet_setup: a staged key, then a
			// rotation that promotes it and stages another.
			if _, err := r.writeNewKey(nil, 0); err != nil {
				return err
			}
			if keys, err = readKeys(dir); err != nil {
				return err
			}
			if keys, err = r.rotate(keys); err != nil {
				return err
			}
		}
		r.keys = keys
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Dir returns the repository's directory.
func (r *KeyRepository) Dir() string {
	return r.dir
}

// Keys returns the active keys in ascending index order: the staged key
// (index 0) first, the primary last.
func (r *KeyRepository) Keys() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

// Reload rereads the directory, picking up a rotation made by another
// process.
func (r *KeyRepository) Reload() error {
	return r.locked(syscall.LOCK_SH, func() error {
		keys, err := readKeys(r.dir)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return fmt.Errorf("token: key repository %s has no keys", r.dir)
		}
		r.keys = keys
		return nil
	})
}

// Rotate makes the staged key the primary under the next index, writes a
// new staged key and removes the oldest secondaries beyond the maximum
// number of active keys.
func (r *KeyRepository) Rotate() error {
	return r.locked(syscall.LOCK_EX, func() error {
		keys, err := readKeys(r.dir)
		if err != nil {
			return err
		}
		if keys, err = r.rotate(keys); err != nil {
			return err
		}
		r.keys = keys
		return nil
	})
}

// rotate rotates the keys on disk, which are keys, and returns the new set.
// The caller holds the exclusive lock.
func (r *KeyRepository) rotate(keys []Key) ([]Key, error) {
	next := 1
	if len(keys) > 0 {
		next = max(keys[len(keys)-1].Index+1, 1)
	}
	// Write the new staged key under a temporary name first so the
	// repository is never without a staged key for longer than a rename.
	tmp, err := r.writeTemp(keys)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.path) // gone after the rename below unless we fail
	if len(keys) > 0 && keys[0].Index == 0 {
		if err := os.Rename(r.path(0), r.path(next)); err != nil {
			return nil, fmt.Errorf("token: promote staged key: %w", err)
		}
		keys[0].Index = next
		slices.SortFunc(keys, func(a, b Key) int { return a.Index - b.Index })
	}
	if err := os.Rename(tmp.path, r.path(0)); err != nil {
		return nil, fmt.Errorf("token: stage key: %w", err)
	}
	keys = slices.Insert(keys, 0, Key{Index: 0, Secret: tmp.secret})
	// Drop the oldest secondaries; never the staged key or the primary.
	for len(keys) > r.maxActive && len(keys) > 2 {
		if err := os.Remove(r.path(keys[1].Index)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("token: remove old key: %w", err)
		}
		keys = slices.Delete(keys, 1, 2)
	}
	if err := syncDir(r.dir); err != nil {
		return nil, err
	}
	return keys, nil
}

type tempKey struct {
	path   string
	secret [KeySize]byte
}

// writeTemp writes a fresh key whose id differs from every key in keys to a
// temporary file in the repository.
func (r *KeyRepository) writeTemp(keys []Key) (tempKey, error) {
	var t tempKey
	for {
		if _, err := rand.Read(t.secret[:]); err != nil {
			return t, fmt.Errorf("token: generate key: %w", err)
		}
		id := Key{Secret: t.secret}.ID()
		if !slices.ContainsFunc(keys, func(k Key) bool { return k.ID() == id }) {
			break
		}
	}
	f, err := os.CreateTemp(r.dir, ".tmp-key-*") // created 0600
	if err != nil {
		return t, fmt.Errorf("token: write key: %w", err)
	}
	t.path = f.Name()
	enc := base64.URLEncoding.EncodeToString(t.secret[:]) + "\n"
	_, err = f.WriteString(enc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(t.path)
		return t, fmt.Errorf("token: write key: %w", err)
	}
	return t, nil
}

// writeNewKey atomically writes a fresh key as index.
func (r *KeyRepository) writeNewKey(keys []Key, index int) (Key, error) {
	t, err := r.writeTemp(keys)
	if err != nil {
		return Key{}, err
	}
	if err := os.Rename(t.path, r.path(index)); err != nil {
		os.Remove(t.path)
		return Key{}, fmt.Errorf("token: write key: %w", err)
	}
	return Key{Index: index, Secret: t.secret}, syncDir(r.dir)
}

func (r *KeyRepository) path(index int) string {
	return filepath.Join(r.dir, strconv.Itoa(index))
}

// locked runs fn holding the repository's in-process mutex and a flock of
// the given kind on its lock file, shared between processes.
func (r *KeyRepository) locked(how int, fn func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(r.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("token: lock key repository: %w", err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("token: lock key repository: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// readKeys reads every key file in dir, ascending by index.
func readKeys(dir string) ([]Key, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("token: read key repository: %w", err)
	}
	var keys []Key
	for _, e := range entries {
		idx, err := strconv.Atoi(e.Name())
		if err != nil || idx < 0 || strconv.Itoa(idx) != e.Name() || !e.Type().IsRegular() {
			continue // temporary files, the lock file, anything else
		}
		k, err := readKey(filepath.Join(dir, e.Name()), idx)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by a concurrent rotation
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int { return a.Index - b.Index })
	return keys, nil
}

// readKey reads one key file, refusing one that others may read.
func readKey(path string, index int) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Key{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("token: key file %s has mode %04o; it must not be accessible by group or others", path, st.Mode().Perm())
	}
	buf := make([]byte, 128)
	n, err := f.Read(buf)
	if err != nil {
		return Key{}, fmt.Errorf("token: read key file %s: %w", path, err)
	}
	text := bytes.TrimSpace(buf[:n])
	var raw [64]byte
	m, err := base64.URLEncoding.Strict().Decode(raw[:], text)
	if err != nil {
		m, err = base64.RawURLEncoding.Strict().Decode(raw[:], text)
	}
	if err != nil || m != KeySize {
		return Key{}, fmt.Errorf("token: key file %s does not hold %d bytes of URL-safe base64", path, KeySize)
	}
	k := Key{Index: index}
	copy(k.Secret[:], raw[:KeySize])
	return k, nil
}

// syncDir flushes directory entries so renames survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("token: sync key repository: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("token: sync key repository: %w", err)
	}
	return nil
}
