package token

import (
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeClaims checks that no plaintext makes the decoder panic and
// that whatever it accepts encodes back to the same bytes.
func FuzzDecodeClaims(f *testing.F) {
	for _, c := range []Claims{typical(), {UserID: "u", IssuedAt: t0, ExpiresAt: t0.Add(time.Second), System: true}} {
		f.Add(appendClaims(nil, &c))
	}
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeClaims(b, nil)
		if err != nil {
			return
		}
		again, err := decodeClaims(appendClaims(nil, &c), nil)
		if err != nil {
			t.Fatalf("re-encoding of accepted claims does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("claims changed through re-encoding:\n%+v\n%+v", c, again)
		}
	})
}
