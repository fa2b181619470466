package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// iface serves work.InterfaceSubject: os-interface's attach and detach,
// under the instance's lock.
func (a *Agent) iface(ctx context.Context, req work.InterfaceRequest) (work.InterfaceReply, error) {
	defer a.lock(req.InstanceUUID)()
	in, ok, err := a.mine(ctx, req.InstanceUUID)
	if err != nil {
		return work.InterfaceReply{}, err
	}
	if !ok {
		return work.InterfaceReply{}, bus.Errorf(bus.CodeNotFound, "instance %s is not on this host", req.InstanceUUID)
	}
	if req.Detach {
		return work.InterfaceReply{}, a.detachInterface(ctx, in, req.PortID)
	}
	p, err := a.attachInterface(ctx, in, rpc.NetworkRequest{NetworkID: req.NetworkID, PortID: req.PortID, FixedIP: req.FixedIP})
	return work.InterfaceReply{Port: p}, err
}

// attachInterface allocates (or takes over) a port, plugs it and
// hot-plugs its NIC; a failure gives the port back.
func (a *Agent) attachInterface(ctx context.Context, in store.Instance, r rpc.NetworkRequest) (p rpc.Port, err error) {
	undo := revert.New()
	defer func() {
		if err != nil {
			if uerr := undo.Fail(context.WithoutCancel(ctx)); uerr != nil {
				a.log.Warn("undo interface attach", "server_id", in.UUID, "error", uerr)
			}
		}
	}()
	var groups []string
	if in.RequestedNetworks != nil {
		groups = in.RequestedNetworks.SecurityGroups
	}
	actx, cancel := context.WithTimeout(ctx, allocateTimeout)
	rep, err := bus.Request[rpc.AllocatePortsRequest, rpc.AllocatePortsReply](actx, a.d.Bus, rpc.SubjAllocatePorts, rpc.AllocatePortsRequest{
		ProjectID: in.ProjectID, UserID: in.UserID, DeviceID: in.UUID, Zone: in.AvailabilityZone, Host: a.cfg.Host,
		Requests: []rpc.NetworkRequest{r}, SecurityGroups: groups, Attach: true})
	cancel()
	if err != nil {
		return p, err
	}
	if len(rep.Ports) != 1 {
		return p, fmt.Errorf("allocate interface: %d ports in the reply", len(rep.Ports))
	}
	p = rep.Ports[0]
	if i := slices.IndexFunc(in.NetworkInfo, func(q rpc.Port) bool { return q.ID == p.ID }); i >= 0 {
		return in.NetworkInfo[i], nil // attached already
	}
	undo.Add(func(ctx context.Context) error { return a.releasePort(ctx, in, p.ID) })
	if err := a.plug(ctx, &p); err != nil {
		return p, err
	}
	nic := nics(store.NetworkInfo{p})[0]
	if err := a.d.Driver.AttachInterface(ctx, in.UUID, nic); err != nil {
		return p, err
	}
	undo.Add(func(ctx context.Context) error { return a.d.Driver.DetachInterface(ctx, in.UUID, nic) })
	if err := a.d.Store.SetNetworkInfo(ctx, in.UUID, append(slices.Clone(in.NetworkInfo), p)); err != nil {
		return p, err
	}
	a.event(ctx, in.UUID, "interface_attach")
	return p, nil
}

// detachInterface unplugs a port's NIC and releases the port: deleted if
// it was made for the instance, else unbound.
func (a *Agent) detachInterface(ctx context.Context, in store.Instance, portID string) error {
	i := slices.IndexFunc(in.NetworkInfo, func(q rpc.Port) bool { return q.ID == portID })
	if i < 0 {
		return bus.Errorf(bus.CodeNotFound, "Port %s is not attached", portID)
	}
	nic := nics(in.NetworkInfo[i : i+1])[0]
	if err := a.d.Driver.DetachInterface(ctx, in.UUID, nic); err != nil && !isNotFound(err) {
		return err
	}
	if err := a.releasePort(ctx, in, portID); err != nil {
		return err
	}
	if err := a.d.Store.SetNetworkInfo(ctx, in.UUID, slices.Delete(slices.Clone(in.NetworkInfo), i, i+1)); err != nil {
		return err
	}
	a.event(ctx, in.UUID, "interface_detach")
	return nil
}

// releasePort deallocates one port of the instance.
func (a *Agent) releasePort(ctx context.Context, in store.Instance, portID string) error {
	dctx, cancel := context.WithTimeout(ctx, allocateTimeout)
	defer cancel()
	_, err := bus.Request[rpc.DeallocatePortsRequest, rpc.DeallocatePortsReply](dctx, a.d.Bus, rpc.SubjDeallocatePorts,
		rpc.DeallocatePortsRequest{ProjectID: in.ProjectID, DeviceID: in.UUID, PortID: portID})
	return err
}

func isNotFound(err error) bool { return errors.Is(err, hypervisor.ErrNotFound) }
