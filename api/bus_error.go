package api

import (
	"errors"

	"github.com/kumo-cloud/kumo/internal/bus"
)

// busCodes maps error kinds to the bus codes a request/reply handler
// answers with; other kinds travel as bus.CodeInternal.
var busCodes = map[Kind]string{
	KindBadRequest:    bus.CodeBadRequest,
	KindNotFound:      bus.CodeNotFound,
	KindConflict:      bus.CodeConflict,
	KindQuotaExceeded: bus.CodeQuotaExceeded,
	KindUnavailable:   bus.CodeUnavailable,
}

// BusError carries an API error's kind and message over the bus, for a
// service that serves the same logic over HTTP and over NATS
// request/reply; any other error is returned unchanged.
func BusError(err error) error {
	var ae *Error
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	code, ok := busCodes[ae.Kind]
	if !ok {
		return bus.Errorf(bus.CodeInternal, "%v", err)
	}
	return bus.Errorf(code, "%s", ae.Message)
}
