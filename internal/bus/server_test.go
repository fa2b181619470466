package bus_test

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
)

func TestStartServer(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		cfg     func(t *testing.T) bus.ServerConfig
		wantErr string
	}{
		{
			name: "random port",
			cfg:  func(t *testing.T) bus.ServerConfig { return bus.ServerConfig{StoreDir: t.TempDir(), Port: -1} },
		},
		{
			name: "port in use",
			cfg: func(t *testing.T) bus.ServerConfig {
				return bus.ServerConfig{StoreDir: t.TempDir(), Port: busyPort}
			},
			wantErr: "address already in use",
		},
		{
			name: "store dir below a file",
			cfg: func(t *testing.T) bus.ServerConfig {
				return bus.ServerConfig{StoreDir: filepath.Join(notADir, "js"), Port: -1}
			},
			wantErr: "store dir",
		},
		{
			name:    "no store dir",
			cfg:     func(t *testing.T) bus.ServerConfig { return bus.ServerConfig{Port: -1} },
			wantErr: "StoreDir is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			cfg.Log = slog.New(slog.DiscardHandler)
			start := time.Now()
			srv, err := bus.StartServer(cfg)
			if tt.wantErr != "" {
				if err == nil {
					srv.Shutdown()
					t.Fatalf("StartServer succeeded, want error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("StartServer error = %v, want it to contain %q", err, tt.wantErr)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("StartServer took %s to fail", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("StartServer: %v", err)
			}
			defer srv.Shutdown()
			if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
				t.Fatalf("ClientURL = %q, want a loopback URL", srv.ClientURL())
			}
			// The server must really listen on TCP so other processes can
			// connect.
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.ClientURL(), "nats://"), time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", srv.ClientURL(), err)
			}
			c.Close()
			srv.Shutdown()
			srv.Shutdown() // safe twice
		})
	}
}

// portOf returns the TCP port of a nats:// URL.
func portOf(t testing.TB, url string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
