package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/internal/bus"
)

func TestBusError(t *testing.T) {
	for _, c := range []struct {
		in        error
		code, msg string
	}{
		{NotFound("volume %s not found", "v1"), bus.CodeNotFound, "volume v1 not found"},
		{BadRequest("bad size"), bus.CodeBadRequest, "bad size"},
		{Conflict("busy"), bus.CodeConflict, "busy"},
		{Unavailable("down"), bus.CodeUnavailable, "down"},
		{&Error{Kind: KindForbidden, Message: "no"}, bus.CodeInternal, "no"},
	} {
		var be *bus.Error
		if err := BusError(c.in); !errors.As(err, &be) || be.Code != c.code || !strings.Contains(be.Message, c.msg) {
			t.Errorf("BusError(%v) = %#v, want code %s with %q", c.in, err, c.code, c.msg)
		}
	}
	plain := errors.New("plain")
	if BusError(nil) != nil || BusError(plain) != plain {
		t.Errorf("BusError must pass nil and non-API errors through")
	}
}
