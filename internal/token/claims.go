package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Claims is everything a token carries; every service's policy checks use
// only these fields, so roles travel already expanded.
type Claims struct {
	// UserID is the authenticated user.
	UserID string
	// UserDomainID is the domain the user belongs to.
	UserDomainID string
	// Methods lists how the user authenticated: "password", "token",
	// "application_credential", ...
	Methods []string
	// ProjectID is the project scope; ProjectDomainID is its domain.
	ProjectID, ProjectDomainID string
	// DomainID is the domain scope.
	DomainID string
	// System is true for system scope "all".
	System bool
	// Roles are role names, already expanded through implied roles (admin
	// implies member implies reader).
	Roles []string
	// RoleIDs are the ids of Roles, in the same order.
	RoleIDs []string
	// AppCredID is the application credential the token was issued from.
	AppCredID string
	// AuditID is this token's audit id: 22 characters of URL-safe base64 of
	// 16 random bytes, as in Keystone.
	AuditID string
	// ParentAuditID is the audit id of the token this one was issued from
	// (method "token"), so revoking the parent revokes the chain like
	// Keystone's audit_chain_id.
	ParentAuditID string
	// IssuedAt and ExpiresAt bound the token's life; tokens keep them to the
	// microsecond.
	IssuedAt, ExpiresAt time.Time
}

// NewAuditID returns a fresh audit id: URL-safe base64, without padding, of
// 16 random bytes.
func NewAuditID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24.
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validate reports whether c can be issued.
func (c *Claims) validate() error {
	switch {
	case c.UserID == "":
		return errors.New("token: claims without a user id")
	case len(c.Roles) != len(c.RoleIDs):
		return fmt.Errorf("token: %d role names but %d role ids", len(c.Roles), len(c.RoleIDs))
	case len(c.Roles) > maxList || len(c.Methods) > maxList:
		return fmt.Errorf("token: more than %d roles or methods", maxList)
	case c.ExpiresAt.IsZero():
		return errors.New("token: claims without an expiry")
	case !c.ExpiresAt.After(c.IssuedAt):
		return errors.New("token: claims expire before they are issued")
	}
	scopes := 0
	if c.ProjectID != "" {
		scopes++
	}
	if c.DomainID != "" {
		scopes++
	}
	if c.System {
		scopes++
	}
	if scopes > 1 {
		return errors.New("token: claims have more than one scope")
	}
	if c.ProjectDomainID != "" && c.ProjectID == "" {
		return errors.New("token: project domain without a project")
	}
	return nil
}

// The claims are encoded with a hand-rolled layout rather than JSON: it is
// several times faster to decode and keeps tokens well under 500 bytes.
//
//	flags byte (bit 0: system scope)
//	UserID, UserDomainID                               string
//	len(Methods) uvarint, Methods                      string...
//	ProjectID, ProjectDomainID, DomainID               string
//	len(Roles) uvarint, (Roles[i], RoleIDs[i])...      string string
//	AppCredID, AuditID, ParentAuditID                  string
//	IssuedAt                                           varint, Unix microseconds
//	ExpiresAt-IssuedAt                                 varint, microseconds
//
// A string is a kind byte followed by its body. Kinds compress the ids kumo
// and Keystone use: 32 lowercase hex digits and dashed UUIDs become their 16
// bytes, 22-character audit ids their 16 bytes, and common words one byte.
const (
	kindEmpty  = 0 // no body
	kindRaw    = 1 // uvarint length, bytes
	kindHex32  = 2 // 16 bytes, rendered as 32 lowercase hex digits
	kindUUID   = 3 // 16 bytes, rendered as a lowercase dashed UUID
	kindB64_16 = 4 // 16 bytes, rendered as 22 characters of unpadded URL-safe base64
	kindWord   = 5 // kindWord+i is words[i]; no body

	flagSystem = 1 << 0

	// maxList bounds the number of methods or roles a token may carry.
	maxList = 255
)

// words are strings common enough in tokens to be stored in one byte. The
// list is part of the token format: only ever append to it.
var words = [...]string{
	"default", "password", "token", "application_credential", "totp",
	"external", "mapped", "oauth1", "oauth2_credential",
	"admin", "member", "reader", "service", "manager",
}

var wordIndex = func() map[string]byte {
	m := make(map[string]byte, len(words))
	for i, w := range words {
		m[w] = byte(kindWord + i)
	}
	return m
}()

var b64Strict = base64.RawURLEncoding.Strict()

// appendString appends s in its most compact kind.
func appendString(b []byte, s string) []byte {
	if s == "" {
		return append(b, kindEmpty)
	}
	if k, ok := wordIndex[s]; ok {
		return append(b, k)
	}
	var raw [16]byte
	switch len(s) {
	case 32:
		if isLowerHex(s) {
			_, _ = hex.Decode(raw[:], []byte(s))
			return append(append(b, kindHex32), raw[:]...)
		}
	case 36:
		if isLowerUUID(s) {
			hx := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
			_, _ = hex.Decode(raw[:], []byte(hx))
			return append(append(b, kindUUID), raw[:]...)
		}
	case 22:
		// Strict decoding rejects non-zero trailing bits, so re-encoding
		// gives back exactly s.
		if n, err := b64Strict.Decode(raw[:], []byte(s)); err == nil && n == 16 {
			return append(append(b, kindB64_16), raw[:]...)
		}
	}
	b = append(b, kindRaw)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isLowerUUID(s string) bool {
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// appendClaims appends the encoding of c to b.
func appendClaims(b []byte, c *Claims) []byte {
	var flags byte
	if c.System {
		flags |= flagSystem
	}
	b = append(b, flags)
	b = appendString(b, c.UserID)
	b = appendString(b, c.UserDomainID)
	b = binary.AppendUvarint(b, uint64(len(c.Methods)))
	for _, m := range c.Methods {
		b = appendString(b, m)
	}
	b = appendString(b, c.ProjectID)
	b = appendString(b, c.ProjectDomainID)
	b = appendString(b, c.DomainID)
	b = binary.AppendUvarint(b, uint64(len(c.Roles)))
	for i := range c.Roles {
		b = appendString(b, c.Roles[i])
		b = appendString(b, c.RoleIDs[i])
	}
	b = appendString(b, c.AppCredID)
	b = appendString(b, c.AuditID)
	b = appendString(b, c.ParentAuditID)
	issued := c.IssuedAt.UnixMicro()
	b = binary.AppendVarint(b, issued)
	return binary.AppendVarint(b, c.ExpiresAt.UnixMicro()-issued)
}

// decoder reads the claims layout; the first error sticks. Strings are
// rendered into arena and recorded as spans, so that all of a token's
// strings cost one allocation.
type decoder struct {
	b     []byte
	err   bool
	arena []byte
}

// span is a decoded string: arena[off:off+n], or words[word] if word >= 0.
type span struct {
	off, n int32
	word   int16
}

var errDecode = errors.New("token: malformed claims")

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(max uint64) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n int) []byte {
	if len(d.b) < n {
		d.err = true
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

// grow extends the arena by n bytes and returns them.
func (d *decoder) grow(n int) []byte {
	d.arena = slices.Grow(d.arena, n)
	off := len(d.arena)
	d.arena = d.arena[:off+n]
	return d.arena[off:]
}

func (d *decoder) string() span {
	k := d.byte()
	off := int32(len(d.arena))
	switch {
	case d.err || k == kindEmpty:
		return span{off: off, word: -1}
	case k == kindRaw:
		n := d.uvarint(uint64(len(d.b)))
		d.arena = append(d.arena, d.take(int(n))...)
	case k == kindHex32:
		if p := d.take(16); !d.err {
			hex.Encode(d.grow(32), p)
		}
	case k == kindUUID:
		if p := d.take(16); !d.err {
			u := d.grow(36)
			hex.Encode(u[0:8], p[0:4])
			u[8] = '-'
			hex.Encode(u[9:13], p[4:6])
			u[13] = '-'
			hex.Encode(u[14:18], p[6:8])
			u[18] = '-'
			hex.Encode(u[19:23], p[8:10])
			u[23] = '-'
			hex.Encode(u[24:36], p[10:16])
		}
	case k == kindB64_16:
		if p := d.take(16); !d.err {
			base64.RawURLEncoding.Encode(d.grow(22), p)
		}
	case int(k-kindWord) < len(words):
		return span{word: int16(k - kindWord)}
	default:
		d.err = true
	}
	return span{off: off, n: int32(len(d.arena)) - off, word: -1}
}

// decodeClaims decodes the encoding made by appendClaims, using arena as
// scratch space.
func decodeClaims(b, arena []byte) (Claims, error) {
	d := decoder{b: b, arena: arena[:0]}
	var c Claims
	flags := d.byte()
	if flags&^flagSystem != 0 {
		return Claims{}, errDecode
	}
	c.System = flags&flagSystem != 0
	var fixed [10]span // the single strings, in Claims order
	var listBuf [32]span
	fixed[0] = d.string()
	fixed[1] = d.string()
	nMethods := int(d.uvarint(maxList))
	lists := listBuf[:0]
	for range nMethods {
		lists = append(lists, d.string())
	}
	fixed[2] = d.string()
	fixed[3] = d.string()
	fixed[4] = d.string()
	nRoles := int(d.uvarint(maxList))
	for range nRoles {
		lists = append(lists, d.string(), d.string())
	}
	fixed[5] = d.string()
	fixed[6] = d.string()
	fixed[7] = d.string()
	issued := d.varint()
	ttl := d.varint()
	if d.err || len(d.b) != 0 || ttl <= 0 {
		return Claims{}, errDecode
	}
	all := string(d.arena)
	get := func(s span) string {
		if s.word >= 0 {
			return words[s.word]
		}
		return all[s.off : s.off+s.n]
	}
	c.UserID, c.UserDomainID = get(fixed[0]), get(fixed[1])
	c.ProjectID, c.ProjectDomainID, c.DomainID = get(fixed[2]), get(fixed[3]), get(fixed[4])
	c.AppCredID, c.AuditID, c.ParentAuditID = get(fixed[5]), get(fixed[6]), get(fixed[7])
	if len(lists) > 0 {
		strs := make([]string, len(lists))
		if nMethods > 0 {
			c.Methods = strs[:nMethods:nMethods]
			for i := range nMethods {
				c.Methods[i] = get(lists[i])
			}
		}
		if nRoles > 0 {
			c.Roles = strs[nMethods : nMethods+nRoles : nMethods+nRoles]
			c.RoleIDs = strs[nMethods+nRoles:]
			for i := range nRoles {
				c.Roles[i] = get(lists[nMethods+2*i])
				c.RoleIDs[i] = get(lists[nMethods+2*i+1])
			}
		}
	}
	c.IssuedAt = time.UnixMicro(issued).UTC()
	c.ExpiresAt = time.UnixMicro(issued + ttl).UTC()
	return c, nil
}
