package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/configdrive"
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Timeouts of the network calls: the network API allocates in one
// transaction; the host's network agent must answer a plug quickly, or
// the build fails rather than waiting for a bridge that never comes.
const (
	allocateTimeout = 30 * time.Second
	plugTimeout     = 5 * time.Second
)

// wantsNetwork reports whether an instance asked for ports.
func wantsNetwork(in store.Instance) bool {
	return len(in.NetworkInfo) > 0 || in.RequestedNetworks != nil && in.RequestedNetworks.Mode != store.NetworksNone
}

// allocateNetwork gets the instance's ports from the network service,
// has this host's network agent plug each one, and records them in the
// instance's network info cache; undo gives the ports back.
func (a *Agent) allocateNetwork(ctx context.Context, undo *revert.Stack, in store.Instance) (store.NetworkInfo, error) {
	if !wantsNetwork(in) {
		return nil, nil
	}
	if a.d.Bus == nil {
		return nil, errors.New("no bus to reach the network service")
	}
	rn := in.RequestedNetworks
	req := rpc.AllocatePortsRequest{ProjectID: in.ProjectID, UserID: in.UserID, DeviceID: in.UUID, Zone: in.AvailabilityZone,
		Host: a.cfg.Host, Requests: rn.Networks, Auto: rn.Mode == store.NetworksAuto || rn.Mode == store.NetworksAny,
		SecurityGroups: rn.SecurityGroups}
	// Registered first: a reply lost to a timeout may still have made ports.
	undo.Add(func(ctx context.Context) error { return a.deallocateNetwork(ctx, in) })
	actx, cancel := context.WithTimeout(ctx, allocateTimeout)
	rep, err := bus.Request[rpc.AllocatePortsRequest, rpc.AllocatePortsReply](actx, a.d.Bus, rpc.SubjAllocatePorts, req)
	cancel()
	if err != nil {
		// Before 2.37 an absent networks boots without a NIC when the
		// project has no network.
		if rn.Mode == store.NetworksAny && bus.HasCode(err, bus.CodeConflict) && strings.Contains(err.Error(), "Unable to automatically allocate") {
			return nil, nil
		}
		return nil, fmt.Errorf("allocate network: %s", busMessage(err))
	}
	info := store.NetworkInfo(rep.Ports)
	for i := range info {
		if err := a.plug(ctx, &info[i]); err != nil {
			return nil, err
		}
	}
	if err := a.d.Store.SetNetworkInfo(ctx, in.UUID, info); err != nil {
		return nil, err
	}
	return info, nil
}

// plug asks this host's network agent to make a port's datapath ready and
// takes the devices it names.
func (a *Agent) plug(ctx context.Context, p *rpc.Port) error {
	pctx, cancel := context.WithTimeout(ctx, plugTimeout)
	defer cancel()
	rep, err := bus.Request[rpc.PlugRequest, rpc.PlugReply](pctx, a.d.Bus, rpc.AgentPlugSubject(a.cfg.Host), rpc.PlugRequest{PortID: p.ID})
	if bus.HasCode(err, bus.CodeUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("network agent on host %s did not answer the plug of port %s", a.cfg.Host, p.ID)
	}
	if err != nil {
		return fmt.Errorf("plug port %s: %s", p.ID, busMessage(err))
	}
	if rep.Bridge != "" {
		p.Bridge = rep.Bridge
	}
	if rep.Tap != "" {
		p.Tap = rep.Tap
	}
	if rep.MTU != 0 {
		p.MTU = rep.MTU
	}
	return nil
}

// deallocateNetwork deletes the ports made for the instance and unbinds
// those the user gave it.
func (a *Agent) deallocateNetwork(ctx context.Context, in store.Instance) error {
	if a.d.Bus == nil {
		return errors.New("no bus to reach the network service")
	}
	dctx, cancel := context.WithTimeout(ctx, allocateTimeout)
	defer cancel()
	rep, err := bus.Request[rpc.DeallocatePortsRequest, rpc.DeallocatePortsReply](dctx, a.d.Bus, rpc.SubjDeallocatePorts,
		rpc.DeallocatePortsRequest{ProjectID: in.ProjectID, DeviceID: in.UUID})
	if err != nil {
		return fmt.Errorf("deallocate network: %s", busMessage(err))
	}
	a.log.Info("ports released", "server_id", in.UUID, "deleted", rep.Deleted, "unbound", rep.Unbound)
	return nil
}

// busMessage is a bus error's message without its code.
func busMessage(err error) string {
	var be *bus.Error
	if errors.As(err, &be) {
		return be.Message
	}
	return err.Error()
}

// nics are the domain's NICs from the instance's network info.
func nics(info store.NetworkInfo) []hypervisor.NICSpec {
	var out []hypervisor.NICSpec
	for _, p := range info {
		out = append(out, hypervisor.NICSpec{MAC: p.MAC, Bridge: p.Bridge, TapName: p.Tap, MTU: p.MTU})
	}
	return out
}

// networkData is network_data.json for the instance's ports, as Nova
// writes it: one link per port, a network per address (DHCP or static as
// the subnet says), and the subnets' DNS servers.
func networkData(info store.NetworkInfo) *configdrive.NetworkData {
	if len(info) == 0 {
		return nil
	}
	nd := &configdrive.NetworkData{}
	seen := map[string]bool{}
	for _, p := range info {
		nd.Links = append(nd.Links, configdrive.Link{ID: p.Tap, VIFID: p.ID, Type: "phy", MTU: p.MTU, MAC: p.MAC})
		for _, f := range p.FixedIPs {
			n := configdrive.Network{ID: fmt.Sprintf("network%d", len(nd.Networks)), Link: p.Tap, NetworkID: p.NetworkID}
			v6 := f.Version == 6
			switch {
			case f.DHCP && !v6:
				n.Type = configdrive.NetworkIPv4DHCP
			case f.DHCP:
				n.Type = configdrive.NetworkIPv6DHCP
			default:
				n.Type = configdrive.NetworkIPv4
				if v6 {
					n.Type = configdrive.NetworkIPv6
				}
				n.IPAddress = f.Address
				if pfx, err := netip.ParsePrefix(f.CIDR); err == nil {
					n.Netmask = netmask(pfx)
				}
				if f.Gateway != "" {
					n.Routes = append(n.Routes, configdrive.Route{Network: zeroNet(v6), Netmask: zeroNet(v6), Gateway: f.Gateway})
				}
				for _, r := range f.HostRoute {
					if pfx, err := netip.ParsePrefix(r.Destination); err == nil {
						n.Routes = append(n.Routes, configdrive.Route{Network: pfx.Addr().String(), Netmask: netmask(pfx), Gateway: r.NextHop})
					}
				}
				for _, d := range f.DNS {
					n.Services = append(n.Services, configdrive.Service{Type: "dns", Address: d})
				}
			}
			nd.Networks = append(nd.Networks, n)
			for _, d := range f.DNS {
				if !seen[d] {
					seen[d] = true
					nd.Services = append(nd.Services, configdrive.Service{Type: "dns", Address: d})
				}
			}
		}
	}
	return nd
}

func zeroNet(v6 bool) string {
	if v6 {
		return "::"
	}
	return "0.0.0.0"
}

// netmask is a prefix's mask in dotted (IPv4) or colon (IPv6) form.
func netmask(p netip.Prefix) string {
	b := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}
