package agent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/vishvananda/netlink"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/neutronapi"
	"github.com/kumo-cloud/kumo/network/store"
)

// Port statuses the agent sets.
const (
	statusActive = "ACTIVE"
	statusDown   = "DOWN"
)

// Reconcile makes the DHCP ports and the host match the store once. force
// names a port to set up here whatever its binding says (a plug request).
func (a *Agent) Reconcile(ctx context.Context, force string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureDHCPPorts(ctx); err != nil {
		a.log.Warn("dhcp ports", "error", err)
	}
	snap, err := a.load(ctx)
	if err != nil {
		return err
	}
	st := a.build(snap, force)
	// An Apply cut short removes what it had half built; the agent
	// stopping must not take networks down, so Apply finishes.
	applyCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	applyErr := a.dp.Apply(applyCtx, st)
	return errors.Join(applyErr, a.updateStatus(ctx, snap, force))
}

// dhcpDeviceID is the device_id of this host's DHCP port on a network, as
// Neutron's DHCP agent names it.
func (a *Agent) dhcpDeviceID(networkID string) string {
	return "dhcp" + uuid.NewSHA1(uuid.NameSpaceDNS, []byte(a.cfg.Host)).String() + "-" + networkID
}

// ensureDHCPPorts gives every network with a DHCP-enabled IPv4 subnet a
// DHCP port of this host holding an address of each such subnet, and
// deletes the DHCP ports of networks that no longer need one.
func (a *Agent) ensureDHCPPorts(ctx context.Context) error {
	s := a.d.Store
	subs, err := store.List[store.Subnet](ctx, s, "enable_dhcp AND ip_version = 4")
	if err != nil {
		return err
	}
	want := map[string][]store.Subnet{}
	for _, sn := range subs {
		want[sn.NetworkID] = append(want[sn.NetworkID], sn)
	}
	ports, err := store.List[store.Port](ctx, s, "device_owner = ?", ownerDHCP)
	if err != nil {
		return err
	}
	have := map[string]store.Port{}
	var errs []error
	for _, p := range ports {
		if p.DeviceID != a.dhcpDeviceID(p.NetworkID) {
			continue
		}
		if _, ok := want[p.NetworkID]; !ok {
			errs = append(errs, a.deleteDHCPPort(ctx, p))
			continue
		}
		have[p.NetworkID] = p
	}
	for netID, sns := range want {
		p, ok := have[netID]
		if err := a.ensureDHCPPort(ctx, netID, sns, p, ok); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", netID, err))
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) ensureDHCPPort(ctx context.Context, netID string, sns []store.Subnet, p store.Port, exists bool) error {
	return a.d.Store.Tx(ctx, func(tx *store.Store) error {
		n, err := store.Get[store.Network](ctx, tx, netID, true)
		if err != nil {
			return err
		}
		if !exists {
			if a.d.Quota != nil && n.ProjectID != "" {
				if err := tx.ConsumeQuota(ctx, a.d.Quota, n.ProjectID, map[string]int64{neutronapi.ResourcePort: 1}); err != nil {
					return err
				}
			}
			p = store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: n.ProjectID}, NetworkID: netID,
				AdminStateUp: true, Status: statusActive, DeviceOwner: ownerDHCP, DeviceID: a.dhcpDeviceID(netID),
				BindingHostID: a.cfg.Host, BindingVNICType: "normal"}
			p.SecurityGroups = []string{}
			for try := 0; ; try++ {
				p.MACAddress = newMAC()
				err := tx.TryCreate(ctx, &p)
				if err == nil {
					break
				}
				if !errors.Is(err, store.ErrConflict) || try == 5 {
					return err
				}
			}
		}
		allocs, err := tx.PortAllocations(ctx, []string{p.ID})
		if err != nil {
			return err
		}
		held := map[string]bool{}
		for _, al := range allocs[p.ID] {
			held[al.SubnetID] = true
		}
		for _, sn := range sns {
			if !held[sn.ID] {
				if err := allocate(ctx, tx, sn.ID, p.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (a *Agent) deleteDHCPPort(ctx context.Context, p store.Port) error {
	return a.d.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.Release(ctx, p.ID, ""); err != nil {
			return err
		}
		if a.d.Quota != nil && p.ProjectID != "" {
			if err := tx.ConsumeQuota(ctx, a.d.Quota, p.ProjectID, map[string]int64{neutronapi.ResourcePort: -1}); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, &p)
	})
}

// newMAC is a random MAC in OpenStack's fa:16:3e prefix.
func newMAC() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return net.HardwareAddr{0xfa, 0x16, 0x3e, b[0], b[1], b[2]}.String()
}

// updateStatus sets this host's VM ports ACTIVE when their tap exists and
// DOWN when it does not.
func (a *Agent) updateStatus(ctx context.Context, snap *snapshot, force string) error {
	var errs []error
	for _, p := range snap.ports {
		if !a.hostPort(p, force) {
			continue
		}
		status := statusDown
		if _, err := netlink.LinkByName(datapath.TapName(p.ID)); err == nil {
			status = statusActive
		}
		if p.Status == status {
			continue
		}
		err := a.d.Store.Tx(ctx, func(tx *store.Store) error {
			cur, err := store.Get[store.Port](ctx, tx, p.ID, true)
			if err != nil || cur.Status == status {
				return err
			}
			cur.Status = status
			return tx.Update(ctx, cur)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if err == nil {
			a.publishStatus(ctx, p, status)
		}
	}
	return errors.Join(errs...)
}

// publishStatus emits kumo.events.network.port.update for a status change
// (compute waits on it as Nova waits for network-vif-plugged). The payload
// carries the port's identity, binding and new status only.
func (a *Agent) publishStatus(ctx context.Context, p store.Port, status string) {
	raw, err := json.Marshal(map[string]any{"id": p.ID, "network_id": p.NetworkID, "device_id": p.DeviceID,
		"device_owner": p.DeviceOwner, "binding:host_id": p.BindingHostID, "status": status})
	if err == nil {
		err = bus.PublishEvent(ctx, a.d.Bus, bus.Event{Service: "network", Resource: "port", Action: "update",
			ResourceID: p.ID, ProjectID: p.ProjectID, Payload: raw})
	}
	if err != nil {
		a.log.Warn("publish port status", "port_id", p.ID, "status", status, "error", err)
	}
}

// plugPort serves rpc.AgentPlugSubject: it sets up the port's network here
// (synchronously, including the port whatever its binding) and names the
// devices.
func (a *Agent) plugPort(ctx context.Context, req rpc.PlugRequest) (rpc.PlugReply, error) {
	p, err := store.Get[store.Port](ctx, a.d.Store, req.PortID, false)
	if errors.Is(err, store.ErrNotFound) {
		return rpc.PlugReply{}, bus.Errorf(bus.CodeNotFound, "port %s not found", req.PortID)
	}
	if err != nil {
		return rpc.PlugReply{}, err
	}
	n, err := store.Get[store.Network](ctx, a.d.Store, p.NetworkID, false)
	if err != nil {
		return rpc.PlugReply{}, err
	}
	if err := a.Reconcile(ctx, p.ID); err != nil {
		var oe *datapath.ObjectError
		for _, e := range unjoin(err) {
			if errors.As(e, &oe) && (oe.ID == p.ID || oe.ID == p.NetworkID) {
				return rpc.PlugReply{}, fmt.Errorf("plug port %s: %w", p.ID, e)
			}
		}
		a.log.Warn("reconcile for plug", "port_id", p.ID, "error", err)
	}
	if _, err := netlink.LinkByName(datapath.BridgeName(n.ID)); err != nil {
		return rpc.PlugReply{}, fmt.Errorf("plug port %s: network %s is not set up on %s: %w", p.ID, n.ID, a.cfg.Host, err)
	}
	return rpc.PlugReply{Bridge: datapath.BridgeName(n.ID), Tap: datapath.TapName(p.ID), MTU: n.MTU}, nil
}

// unjoin flattens joined errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
