package identity

import "testing"

func TestHashAndVerify(t *testing.T) {
	fast := Argon2Params{Memory: 64, Time: 1, Threads: 1}
	h, err := hashSecret(fast, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashSecret(fast, "correct horse")
	if h == h2 {
		t.Fatal("two hashes of the same secret are equal: no salt")
	}
	tests := []struct {
		name   string
		hash   string
		secret string
		want   bool
	}{
		{"right secret", h, "correct horse", true},
		{"wrong secret", h, "correct horsf", false},
		{"empty secret", h, "", false},
		{"garbage hash", "$argon2id$nope", "correct horse", false},
		{"other algorithm", "$2a$10$abcdefghijklmnopqrstuv", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifySecret(tt.hash, tt.secret); got != tt.want {
				t.Fatalf("verify = %v, want %v", got, tt.want)
			}
		})
	}
}
