package datapath

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Metadata headers the proxy sets on every request it hands to the
// MetadataHandler, after removing whatever the guest sent under them.
const (
	HeaderNetworkID    = "X-Kumo-Network-ID"
	HeaderForwardedFor = "X-Forwarded-For"
)

// MetadataSource identifies who asks: the network whose namespace the
// request arrived in and the source address the namespace saw. Both come
// from the kernel, never from the guest.
type MetadataSource struct {
	NetworkID string
	IP        net.IP
}

// MetadataHandler answers metadata requests. The glue implements it (for
// instance by looking up the port with that IP on that network and
// serving its instance's metadata).
type MetadataHandler interface {
	ServeMetadata(w http.ResponseWriter, r *http.Request, src MetadataSource)
}

// MetadataHandlerFunc adapts a function to MetadataHandler.
type MetadataHandlerFunc func(w http.ResponseWriter, r *http.Request, src MetadataSource)

// ServeMetadata calls f.
func (f MetadataHandlerFunc) ServeMetadata(w http.ResponseWriter, r *http.Request, src MetadataSource) {
	f(w, r, src)
}

// metadataServers are the HTTP listeners at 169.254.169.254:80, one per
// DHCP namespace, opened inside the namespace and served by goroutines of
// this process.
type metadataServers struct {
	d       *Datapath
	mu      sync.Mutex
	servers map[string]*metadataServer
}

type metadataServer struct {
	srv  *http.Server
	done chan struct{}
	ino  uint64 // of the namespace the listener lives in
}

func newMetadataServers(d *Datapath) *metadataServers {
	return &metadataServers{d: d, servers: map[string]*metadataServer{}}
}

func (m *metadataServers) ensure(networkID, nsName string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, nsName), &st); err != nil {
		return err
	}
	m.mu.Lock()
	s, ok := m.servers[networkID]
	m.mu.Unlock()
	if ok && s.ino == st.Ino {
		return nil
	}
	if ok {
		m.stop(networkID) // its namespace was recreated
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ln net.Listener
	err := inNamespace(nsName, func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(MetadataIP.String(), "80"))
		return err
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           m.handler(networkID),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s = &metadataServer{srv: srv, done: make(chan struct{}), ino: st.Ino}
	go func() {
		defer close(s.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.d.log.Warn("metadata listener stopped", "network_id", networkID, "err", err)
		}
	}()
	m.servers[networkID] = s
	return nil
}

func (m *metadataServers) handler(networkID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil {
			http.Error(w, "bad source", http.StatusBadRequest)
			return
		}
		for k := range r.Header {
			if http.CanonicalHeaderKey(k) == HeaderForwardedFor || len(k) > 7 && http.CanonicalHeaderKey(k[:7]) == "X-Kumo-" {
				r.Header.Del(k)
			}
		}
		r.Header.Set(HeaderNetworkID, networkID)
		r.Header.Set(HeaderForwardedFor, ip.String())
		h := m.d.cfg.Metadata
		if h == nil {
			http.Error(w, "metadata service unavailable", http.StatusServiceUnavailable)
			return
		}
		h.ServeMetadata(w, r, MetadataSource{NetworkID: networkID, IP: ip})
	})
}

func (m *metadataServers) stop(networkID string) {
	m.mu.Lock()
	s, ok := m.servers[networkID]
	delete(m.servers, networkID)
	m.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

func (m *metadataServers) running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.servers {
		ids = append(ids, id)
	}
	return ids
}

func (m *metadataServers) stopAll() {
	for _, id := range m.running() {
		m.stop(id)
	}
}
