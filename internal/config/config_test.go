package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestBindPrecedence(t *testing.T) {
	t.Setenv("KUMO_LISTEN", "127.0.0.1:9999")
	c := Default()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" {
		t.Fatalf("env not applied: %s", c.Listen)
	}
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7777"}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7777" {
		t.Fatalf("flag does not beat env: %s", c.Listen)
	}
}

func TestAllocationFlags(t *testing.T) {
	t.Setenv("KUMO_RAM_ALLOCATION_RATIO", "1.0")
	t.Setenv("KUMO_RESERVED_HOST_MEMORY_MB", "2048")
	c := Default()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse([]string{"--cpu-allocation-ratio", "2.5", "--reserved-host-cpus", "1", "--reserved-host-disk-mb", "1500"}); err != nil {
		t.Fatal(err)
	}
	want := Allocation{CPURatio: 2.5, RAMRatio: 1, DiskRatio: 1, ReservedMemoryMB: 2048, ReservedCPUs: 1, ReservedDiskMB: 1500}
	if c.Allocation != want {
		t.Fatalf("allocation = %+v, want %+v", c.Allocation, want)
	}
	if d := Default().Allocation; d != (Allocation{CPURatio: 16, RAMRatio: 1.5, DiskRatio: 1, ReservedMemoryMB: -1}) {
		t.Fatalf("defaults = %+v", d)
	}
}

func TestValidate(t *testing.T) {
	readonly := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(readonly, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "bad listen", mutate: func(c *Config) { c.Listen = "nonsense" }, wantErr: "--listen"},
		{name: "bad virt type", mutate: func(c *Config) { c.VirtType = "xen" }, wantErr: "--virt-type"},
		{name: "bad log level", mutate: func(c *Config) { c.LogLevel = "loud" }, wantErr: "--log-level"},
		{name: "zero cpu ratio", mutate: func(c *Config) { c.Allocation.CPURatio = 0 }, wantErr: "--cpu-allocation-ratio"},
		{name: "negative reserved cpus", mutate: func(c *Config) { c.Allocation.ReservedCPUs = -1 }, wantErr: "--reserved-host-cpus"},
		{name: "reserved memory below auto", mutate: func(c *Config) { c.Allocation.ReservedMemoryMB = -2 }, wantErr: "--reserved-host-memory-mb"},
		{name: "state dir under a file", mutate: func(c *Config) { c.StateDir = filepath.Join(readonly, "x") }, wantErr: "not writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.StateDir = filepath.Join(t.TempDir(), "state")
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if !filepath.IsAbs(c.StateDir) {
					t.Fatalf("state dir not made absolute: %s", c.StateDir)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tt.wantErr)
			}
		})
	}
}
