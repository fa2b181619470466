package datapath

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WatchTaps plugs VM taps into their network's bridge the moment they
// appear, for the ports of the last State applied, so a tap the hypervisor
// creates after Apply needs no second Apply (its filtering already applies:
// the rules match it by name). It runs until ctx ends.
func (d *Datapath) WatchTaps(ctx context.Context) error {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	}); err != nil {
		return fmt.Errorf("subscribe to link updates: %w", err)
	}
	// Taps that appeared before the subscription.
	d.plugKnownTaps()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("link updates: %w", err)
		case u, ok := <-updates:
			if !ok {
				return fmt.Errorf("link updates closed")
			}
			if u.Header.Type != unix.RTM_NEWLINK {
				continue
			}
			d.plugTap(u.Link.Attrs().Name)
		}
	}
}

// plugTap plugs one tap if it belongs to a port of the last State.
func (d *Datapath) plugTap(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.taps[name]
	if !ok {
		return
	}
	if err := d.plugPort(p, d.nets); err != nil {
		d.log.Warn("plug tap", "device", name, "port_id", p.ID, "err", err)
	}
}

func (d *Datapath) plugKnownTaps() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, p := range d.taps {
		if err := d.plugPort(p, d.nets); err != nil {
			d.log.Warn("plug tap", "device", name, "port_id", p.ID, "err", err)
		}
	}
}
