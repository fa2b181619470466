package hypervisor

import (
	"context"
	"errors"
	"io"
)

// ErrNoSerial means the domain is not running or has no interactive serial
// port to attach to.
var ErrNoSerial = errors.New("hypervisor: no serial console")

// SerialConsoler is implemented by drivers that can attach to a running
// domain's interactive serial port (the one the console log records). It is
// separate from Driver so drivers without interactive consoles need not
// implement it.
type SerialConsoler interface {
	// OpenSerial attaches to the serial port of the running domain: what
	// the guest writes can be read, what is written reaches the guest.
	// Close detaches; the console log keeps recording either way.
	// ErrNotFound for an unknown domain, ErrNoSerial when it is not
	// running or has no pty.
	OpenSerial(ctx context.Context, uuid string) (io.ReadWriteCloser, error)
}
