package token

// Validator checks tokens the way every service must: a Codec to open and
// expire them and a RevocationList, kept current by Follow, to revoke them.
type Validator struct {
	codec *Codec
	list  *RevocationList
}

// NewValidator returns a validator using codec and list.
func NewValidator(codec *Codec, list *RevocationList) *Validator {
	return &Validator{codec: codec, list: list}
}

// Validate returns the claims of a valid token, or ErrInvalid, ErrExpired
// or ErrRevoked.
func (v *Validator) Validate(token string) (Claims, error) {
	c, err := v.codec.Parse(token)
	if err != nil {
		return Claims{}, err
	}
	if v.list.IsRevoked(c) {
		return Claims{}, ErrRevoked
	}
	return c, nil
}
