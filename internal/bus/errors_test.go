package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kumo-cloud/kumo/internal/bus"
)

func TestError(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantCode     string
		wantDeadline bool
	}{
		{name: "direct", err: bus.Errorf(bus.CodeNotFound, "server %s", "x"), wantCode: bus.CodeNotFound},
		{name: "wrapped", err: fmt.Errorf("get: %w", bus.Errorf(bus.CodeConflict, "busy")), wantCode: bus.CodeConflict},
		{name: "remote timeout", err: bus.Errorf(bus.CodeTimeout, "slow"), wantCode: bus.CodeTimeout, wantDeadline: true},
		{name: "plain", err: errors.New("plain"), wantCode: ""},
		{name: "nil", err: nil, wantCode: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bus.ErrorCode(tt.err); got != tt.wantCode {
				t.Fatalf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if tt.wantCode != "" && !bus.HasCode(tt.err, tt.wantCode) {
				t.Fatalf("HasCode(%v, %q) = false", tt.err, tt.wantCode)
			}
			if got := errors.Is(tt.err, context.DeadlineExceeded); got != tt.wantDeadline {
				t.Fatalf("errors.Is(DeadlineExceeded) = %v, want %v", got, tt.wantDeadline)
			}
		})
	}
	if got := bus.Errorf(bus.CodeNotFound, "server %s", "x").Error(); got != "not_found: server x" {
		t.Fatalf("Error() = %q", got)
	}
}
