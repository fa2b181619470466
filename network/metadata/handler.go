package metadata

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/store"
)

// Handler is the datapath.MetadataHandler of the network agent.
type Handler struct {
	Store *store.Store
	Bus   *bus.Bus
	Log   *slog.Logger
}

var _ datapath.MetadataHandler = (*Handler)(nil)

// ServeMetadata answers a guest: the port with src.IP on src.NetworkID
// names the instance (its device_id); an address no instance port holds
// is 404.
func (h *Handler) ServeMetadata(w http.ResponseWriter, r *http.Request, src datapath.MetadataSource) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	// Not r.Context(): it ends when the guest half-closes its connection
	// after the request, as HTTP/1.0 clients such as nc do, and the
	// guest still waits for the answer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	inst, err := h.lookup(ctx, src)
	if errors.Is(err, store.ErrNotFound) || bus.HasCode(err, bus.CodeNotFound) {
		http.Error(w, "404 Not Found", http.StatusNotFound)
		return
	}
	if err != nil {
		h.log().Warn("metadata lookup", "network_id", src.NetworkID, "ip", src.IP.String(), "error", err)
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	rep := Render(inst, r.URL.Path)
	w.Header().Set("Content-Type", rep.ContentType)
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

// lookup finds the instance behind src: store.ErrNotFound when no
// instance port holds the address.
func (h *Handler) lookup(ctx context.Context, src datapath.MetadataSource) (Instance, error) {
	port, err := h.Store.PortByAddress(ctx, src.NetworkID, src.IP.String())
	if err != nil {
		return Instance{}, err
	}
	if port.DeviceID == "" || !strings.HasPrefix(port.DeviceOwner, "compute:") {
		return Instance{}, store.ErrNotFound
	}
	md, err := bus.Request[rpc.InstanceMetadataRequest, rpc.InstanceMetadata](ctx, h.Bus, rpc.SubjInstanceMetadata,
		rpc.InstanceMetadataRequest{InstanceUUID: port.DeviceID})
	if err != nil {
		return Instance{}, err
	}
	inst := Instance{InstanceMetadata: md, LocalIPv4: src.IP.String()}
	fips, err := store.List[store.FloatingIP](ctx, h.Store, "port_id = ? AND fixed_ip_address = ?", port.ID, src.IP.String())
	if err != nil {
		return Instance{}, err
	}
	if len(fips) > 0 {
		inst.PublicIPv4 = fips[0].FloatingIPAddress
	}
	return inst, nil
}
