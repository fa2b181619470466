package hypervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

var _ SerialConsoler = (*Libvirt)(nil)

// OpenSerial implements SerialConsoler: it reads the live domain XML for
// the pty libvirt allocated to serial port 0 (<serial type='pty'>, whose
// output virtlogd also logs) and opens its slave side in raw mode.
func (l *Libvirt) OpenSerial(ctx context.Context, uuid string) (io.ReadWriteCloser, error) {
	var path string
	err := l.withDomain(ctx, "open serial", uuid, false, func(dom *libvirt.Domain) error {
		st, _, err := dom.GetState()
		if err != nil {
			return err
		}
		if st != libvirt.DOMAIN_RUNNING && st != libvirt.DOMAIN_PAUSED {
			return fmt.Errorf("%w: domain is not running", ErrNoSerial)
		}
		raw, err := dom.GetXMLDesc(0)
		if err != nil {
			return err
		}
		var d libvirtxml.Domain
		if err := d.Unmarshal(raw); err != nil {
			return err
		}
		path = serialPTYOf(&d)
		if path == "" {
			return fmt.Errorf("%w: domain has no serial pty", ErrNoSerial)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return openPTY(path)
}

// serialPTYOf returns the pty of a live domain's serial port 0.
func serialPTYOf(d *libvirtxml.Domain) string {
	if d.Devices == nil {
		return ""
	}
	for _, s := range d.Devices.Serials {
		if s.Target != nil && s.Target.Port != nil && *s.Target.Port != 0 {
			continue
		}
		if s.Source != nil && s.Source.Pty != nil && strings.HasPrefix(s.Source.Pty.Path, "/dev/pts/") {
			return s.Source.Pty.Path
		}
	}
	return ""
}

// openPTY opens a pty's slave side without making it our controlling
// terminal and puts it in raw mode, so that neither the line discipline's
// echo nor its line editing touches the bytes either way. The file is
// pollable: Close unblocks a pending Read.
func openPTY(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open serial pty %s: %w", path, err)
	}
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err == nil {
		makeRaw(tio)
		err = unix.IoctlSetTermios(fd, unix.TCSETS, tio)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("serial pty %s raw mode: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// makeRaw is cfmakeraw(3).
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}
