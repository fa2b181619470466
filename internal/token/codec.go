package token

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Errors returned by Parse and Validate; callers answer all three with 401.
var (
	// ErrInvalid means the token is malformed, tampered with, or sealed with
	// a key that is not active.
	ErrInvalid = errors.New("token: invalid")
	// ErrExpired means the token was valid but its expiry has passed.
	ErrExpired = errors.New("token: expired")
	// ErrRevoked means the token is valid but has been revoked.
	ErrRevoked = errors.New("token: revoked")
)

const (
	// Version is the first byte of every token in this format.
	Version = 1
	// headerSize is version, key id and nonce.
	headerSize = 1 + 4 + chacha20poly1305.NonceSizeX
	// MaxTokenLen bounds the length of a token string Parse will look at.
	MaxTokenLen = 4096
)

// CodecOption configures a Codec.
type CodecOption func(*Codec)

// WithClock makes the codec read the time from now, for tests.
func WithClock(now func() time.Time) CodecOption {
	return func(c *Codec) { c.now = now }
}

// Codec issues and parses tokens with a set of keys: it seals with the
// primary key and opens with any active key. It is safe for concurrent use.
type Codec struct {
	repo *KeyRepository // nil for a codec built from raw keys
	now  func() time.Time
	set  atomic.Pointer[keySet]
}

// keySet is the immutable set of keys a codec uses at one time.
type keySet struct {
	primaryID uint32
	primary   cipher.AEAD
	open      []keyAEAD // every active key, primary first
}

type keyAEAD struct {
	id   uint32
	aead cipher.AEAD
}

// NewCodec returns a codec using the keys of repo; call Reload after
// another process rotates them.
func NewCodec(repo *KeyRepository, opts ...CodecOption) (*Codec, error) {
	c := newCodec(opts)
	c.repo = repo
	if err := c.SetKeys(repo.Keys()); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCodecFromKeys returns a codec using keys, for a service that receives
// them rather than reading a repository; the highest Index is the primary.
func NewCodecFromKeys(keys []Key, opts ...CodecOption) (*Codec, error) {
	c := newCodec(opts)
	if err := c.SetKeys(keys); err != nil {
		return nil, err
	}
	return c, nil
}

func newCodec(opts []CodecOption) *Codec {
	c := &Codec{now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SetKeys replaces the codec's keys; the highest Index is the primary.
// Tokens being parsed concurrently use either the old or the new set.
func (c *Codec) SetKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("token: no keys")
	}
	s := &keySet{}
	primary := -1
	for i, k := range keys {
		aead, err := chacha20poly1305.NewX(k.Secret[:])
		if err != nil {
			return fmt.Errorf("token: %v: %w", k, err)
		}
		s.open = append(s.open, keyAEAD{id: k.ID(), aead: aead})
		if primary < 0 || k.Index > keys[primary].Index {
			primary = i
		}
	}
	s.open[0], s.open[primary] = s.open[primary], s.open[0]
	s.primaryID, s.primary = s.open[0].id, s.open[0].aead
	c.set.Store(s)
	return nil
}

// Reload rereads the codec's repository, picking up a rotation made by
// another process; a codec built from raw keys uses SetKeys instead.
func (c *Codec) Reload() error {
	if c.repo == nil {
		return errors.New("token: codec has no key repository to reload")
	}
	if err := c.repo.Reload(); err != nil {
		return err
	}
	return c.SetKeys(c.repo.Keys())
}

// Issue seals claims into a token with the primary key. A zero IssuedAt is
// set to now and an empty AuditID to NewAuditID(); callers that must report
// them set them first.
func (c *Codec) Issue(claims Claims) (string, error) {
	if claims.IssuedAt.IsZero() {
		claims.IssuedAt = c.now()
	}
	// Tokens keep times to the microsecond; validate what will be read back.
	claims.IssuedAt = time.UnixMicro(claims.IssuedAt.UnixMicro())
	if !claims.ExpiresAt.IsZero() {
		claims.ExpiresAt = time.UnixMicro(claims.ExpiresAt.UnixMicro())
	}
	if claims.AuditID == "" {
		claims.AuditID = NewAuditID()
	}
	if err := claims.validate(); err != nil {
		return "", err
	}
	s := c.set.Load()
	buf := make([]byte, headerSize, 512)
	buf[0] = Version
	binary.BigEndian.PutUint32(buf[1:5], s.primaryID)
	if _, err := rand.Read(buf[5:headerSize]); err != nil {
		return "", fmt.Errorf("token: nonce: %w", err)
	}
	buf = appendClaims(buf, &claims)
	pt := buf[headerSize:]
	// The header is authenticated as additional data, so the version and
	// key id cannot be altered either.
	sealed := s.primary.Seal(pt[:0], buf[5:headerSize], pt, buf[:5])
	raw := buf[:headerSize+len(sealed)]
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("token: claims too large (%d bytes)", len(tok))
	}
	return tok, nil
}

// parseBuf holds Parse's scratch space; the AEAD interface makes stack
// buffers escape, so they are pooled instead.
type parseBuf struct {
	raw, out [MaxTokenLen * 3 / 4]byte
	arena    [3 * MaxTokenLen]byte // decoded strings; ids expand to at most 36/17 of their encoding
}

var parseBufs = sync.Pool{New: func() any { return new(parseBuf) }}

// Parse opens token with the active key its key id names, decodes its
// claims and checks its expiry; it returns ErrInvalid or ErrExpired.
func (c *Codec) Parse(token string) (Claims, error) {
	if len(token) > MaxTokenLen || len(token) < base64.RawURLEncoding.EncodedLen(headerSize+chacha20poly1305.Overhead) {
		return Claims{}, ErrInvalid
	}
	bufs := parseBufs.Get().(*parseBuf)
	defer parseBufs.Put(bufs)
	raw := bufs.raw[:base64.RawURLEncoding.DecodedLen(len(token))]
	// Strict decoding: a token whose unused trailing bits were changed is a
	// different string and must not validate.
	n, err := b64Strict.Decode(raw, []byte(token))
	if err != nil || raw[0] != Version {
		return Claims{}, ErrInvalid
	}
	raw = raw[:n]
	id := binary.BigEndian.Uint32(raw[1:5])
	nonce, ct := raw[5:headerSize], raw[headerSize:]
	s := c.set.Load()
	// Open into a separate buffer: a failed Open may clear its output, and
	// a key id collision means trying the same ciphertext again.
	for _, k := range s.open {
		if k.id != id {
			continue
		}
		pt, err := k.aead.Open(bufs.out[:0], nonce, ct, raw[:5])
		if err != nil {
			continue // a key id collision: try the next key with this id
		}
		claims, err := decodeClaims(pt, bufs.arena[:0])
		if err != nil {
			return Claims{}, ErrInvalid
		}
		if !c.now().Before(claims.ExpiresAt) {
			return Claims{}, ErrExpired
		}
		return claims, nil
	}
	return Claims{}, ErrInvalid
}
