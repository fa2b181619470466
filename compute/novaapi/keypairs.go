package novaapi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/ssh"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Key pair types (microversion 2.2).
const (
	KeyTypeSSH  = "ssh"
	KeyTypeX509 = "x509"
)

// novaTime is how Nova renders timestamps in key pair views.
const novaTime = "2006-01-02T15:04:05.000000"

// keyOwner is the user whose key pairs a request is about: the caller, or
// from 2.10 the user_id an admin names (query or body).
func (s *Service) keyOwner(c *gin.Context, v Version, rule, requested string) (string, error) {
	cl := api.Claims(c)
	if requested == "" || !v.At(10) || requested == cl.UserID {
		return cl.UserID, nil
	}
	if !api.Allowed(c, rule, policy.Target{"user_id": requested, "project_id": cl.ProjectID}) {
		return "", api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	return requested, nil
}

func keyPairView(k store.KeyPair, v Version, full bool) gin.H {
	out := gin.H{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
	if v.At(2) {
		out["type"] = k.Type
	}
	if full {
		out["user_id"] = k.UserID
		out["id"] = k.ID
		out["created_at"] = k.CreatedAt.UTC().Format(novaTime)
		out["updated_at"] = nil
		out["deleted"] = false
		out["deleted_at"] = nil
	}
	return out
}

func (s *Service) listKeyPairs(c *gin.Context, v Version) (*api.Response, error) {
	q := c.Request.URL.Query()
	user, err := s.keyOwner(c, v, "os_compute_api:os-keypairs:index", q.Get("user_id"))
	if err != nil {
		return nil, err
	}
	limit, marker := 0, ""
	if v.At(35) {
		if _, given := q["limit"]; given {
			if limit, marker, err = pageParams(q); err != nil {
				return nil, err
			}
		} else {
			marker = q.Get("marker")
		}
	}
	keys, err := s.store.ListKeyPairs(c.Request.Context(), user, marker, limit)
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, len(keys))
	for i, k := range keys {
		out[i] = gin.H{"keypair": keyPairView(k, v, false)}
	}
	body := gin.H{"keypairs": out}
	if limit > 0 && len(keys) == limit {
		body["keypairs_links"] = nextLink(s.cfg.PublicURL+Prefix+"/v2.1/os-keypairs", q, keys[len(keys)-1].Name)
	}
	return api.OK(body), nil
}

func (s *Service) getKeyPair(c *gin.Context, v Version) (*api.Response, error) {
	user, err := s.keyOwner(c, v, "os_compute_api:os-keypairs:show", c.Query("user_id"))
	if err != nil {
		return nil, err
	}
	name := c.Param("keypair_name")
	k, err := s.store.GetKeyPair(c.Request.Context(), user, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Keypair %s not found for user %s", name, user)
	} else if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"keypair": keyPairView(k, v, true)}), nil
}

func (s *Service) deleteKeyPair(c *gin.Context, v Version) (*api.Response, error) {
	user, err := s.keyOwner(c, v, "os_compute_api:os-keypairs:delete", c.Query("user_id"))
	if err != nil {
		return nil, err
	}
	name := c.Param("keypair_name")
	ctx := c.Request.Context()
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteKeyPair(ctx, user, name); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, user, map[string]int64{ResourceKeyPairs: -1})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Keypair %s not found for user %s", name, user)
	} else if err != nil {
		return nil, err
	}
	if v.At(2) {
		return api.NoContent(), nil
	}
	return api.Accepted(nil), nil
}

// validKeyName applies Nova's rule: 1 to 255 characters among letters,
// digits, '_', '-' and ' ' (and from 2.92 '@' and '.').
func validKeyName(name string, v Version) error {
	if len(name) < 1 || len(name) > 255 {
		return api.BadRequest("Keypair data is invalid: Keypair name must be string and between 1 and 255 characters long")
	}
	safe := "_- "
	if v.At(92) {
		safe += "@."
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(safe, r)) {
			return api.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
		}
	}
	return nil
}

func (s *Service) createKeyPair(c *gin.Context, v Version) (*api.Response, error) {
	allowed := []string{"name", "public_key"}
	if v.At(2) {
		allowed = append(allowed, "type")
	}
	if v.At(10) {
		allowed = append(allowed, "user_id")
	}
	m, err := object(c, "keypair", allowed...)
	if err != nil {
		return nil, err
	}
	if _, ok := m["name"]; !ok {
		return nil, api.BadRequest("Invalid input for field/attribute keypair. 'name' is a required property")
	}
	name, _, err := stringField(m, "name", 0, 1<<16)
	if err != nil {
		return nil, err
	}
	publicKey, hasKey, err := stringField(m, "public_key", 0, 1<<20)
	if err != nil {
		return nil, err
	}
	if v.At(92) && !hasKey {
		return nil, api.BadRequest("Invalid input for field/attribute keypair. 'public_key' is a required property")
	}
	typ, _, err := stringField(m, "type", 0, 255)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		typ = KeyTypeSSH
	}
	if typ != KeyTypeSSH && typ != KeyTypeX509 {
		return nil, api.BadRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['ssh', 'x509']", typ, typ)
	}
	requested, _, err := stringField(m, "user_id", 0, 255)
	if err != nil {
		return nil, err
	}
	user, err := s.keyOwner(c, v, "os_compute_api:os-keypairs:create", requested)
	if err != nil {
		return nil, err
	}
	if err := validKeyName(name, v); err != nil {
		return nil, err
	}
	k := store.KeyPair{UserID: user, ProjectID: api.Claims(c).ProjectID, Name: name, Type: typ}
	var private string
	if hasKey {
		k.PublicKey = publicKey
		if k.Fingerprint, err = fingerprint(typ, publicKey); err != nil {
			return nil, err
		}
	} else {
		if private, k.PublicKey, k.Fingerprint, err = generateKey(typ, user); err != nil {
			return nil, api.Internal(err)
		}
	}
	ctx := c.Request.Context()
	if err := s.checkProjectKeyPairLimit(c, k); err != nil {
		return nil, err
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ConsumeQuota(ctx, s.quota, user, map[string]int64{ResourceKeyPairs: 1}); err != nil {
			return err
		}
		return tx.CreateKeyPair(ctx, &k)
	})
	switch {
	case errors.Is(err, quota.ErrOverQuota):
		return nil, api.QuotaExceeded("Quota exceeded, too many key pairs.")
	case errors.Is(err, store.ErrConflict):
		return nil, api.Conflict("Key pair '%s' already exists.", name)
	case err != nil:
		return nil, err
	}
	out := keyPairView(k, v, false)
	out["user_id"] = k.UserID
	if private != "" {
		out["private_key"] = private
	}
	status := http.StatusOK
	if v.At(2) {
		status = http.StatusCreated
	}
	return &api.Response{Status: status, Body: gin.H{"keypair": out}}, nil
}

// checkProjectKeyPairLimit applies a project-wide key_pairs override to
// each user of the project: the engine enforces the user's own limit
// atomically; a lower project override is checked here, before it.
func (s *Service) checkProjectKeyPairLimit(c *gin.Context, k store.KeyPair) error {
	ctx := c.Request.Context()
	overrides, err := s.quota.Overrides(ctx, k.ProjectID, ResourceKeyPairs)
	if err != nil || len(overrides) == 0 || overrides[0].Limit == quota.Unlimited {
		return err
	}
	n, err := s.store.CountKeyPairs(ctx, k.UserID)
	if err != nil {
		return err
	}
	if n+1 > overrides[0].Limit {
		return api.QuotaExceeded("Quota exceeded, too many key pairs.")
	}
	return nil
}

// fingerprint computes Nova's fingerprint of a public key: for ssh keys the
// MD5 of the wire encoding, for x509 certificates the SHA-1 of the DER
// encoding, both as colon-separated lowercase hex.
func fingerprint(typ, publicKey string) (string, error) {
	if typ == KeyTypeX509 {
		block, _ := pem.Decode([]byte(publicKey))
		if block == nil {
			return "", api.BadRequest("Keypair data is invalid: failed to generate X509 fingerprint. Error message: no PEM certificate found")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", api.BadRequest("Keypair data is invalid: failed to generate X509 fingerprint. Error message: %v", err)
		}
		return colonHex(sha1Sum(cert.Raw)), nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(publicKey))
	if err != nil {
		return "", api.BadRequest("Keypair data is invalid: failed to generate fingerprint")
	}
	return ssh.FingerprintLegacyMD5(pub), nil
}

func sha1Sum(b []byte) []byte { sum := sha1.Sum(b); return sum[:] }

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	parts := make([]string, 0, len(h)/2)
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// generateKey makes a new key pair as Nova did before 2.92: an RSA 2048
// key, given back once as a PKCS#1 PEM private key, with an OpenSSH public
// key or, for x509, a self-signed certificate naming the user.
func generateKey(typ, user string) (private, public, fp string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", "", err
	}
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if typ == KeyTypeX509 {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		if err != nil {
			return "", "", "", err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: user, Organization: []string{"kumo"}},
			NotBefore:    time.Now().Add(-time.Minute),
			NotAfter:     time.Now().AddDate(10, 0, 0),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return "", "", "", err
		}
		public = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		return private, public, colonHex(sha1Sum(der)), nil
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", "", err
	}
	public = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " Generated-by-kumo"
	return private, public, ssh.FingerprintLegacyMD5(pub), nil
}
