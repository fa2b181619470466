package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// throughputMiB is how much the throughput benchmark writes and reads.
const throughputMiB = 128

// throughputScript is kumo-tiny user data that waits for an attached
// volume, writes throughputMiB to it and reads it back with O_DIRECT, and
// prints the guest's uptime at each step.
const throughputScript = `#!/bin/sh
while :; do
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] && [ -n "$(cat "$d/serial")" ] || continue
		n=${d##*/}
		t0=$(cut -d ' ' -f 1 /proc/uptime)
		dd if=/dev/zero of=/dev/$n bs=1M count=%[1]d oflag=direct 2>/dev/null
		t1=$(cut -d ' ' -f 1 /proc/uptime)
		dd if=/dev/$n of=/dev/null bs=1M count=%[1]d iflag=direct 2>/dev/null
		t2=$(cut -d ' ' -f 1 /proc/uptime)
		echo "THROUGHPUT $t0 $t1 $t2"
		exit 0
	done
	sleep 1
done
`

var throughputLine = regexp.MustCompile(`THROUGHPUT ([0-9.]+) ([0-9.]+) ([0-9.]+)`)

// BenchmarkVolumeThroughput measures sequential write and read throughput
// (1 MiB blocks, O_DIRECT, throughputMiB) inside a kumo-tiny guest under
// TCG on an attached 1 GiB volume, and the same dd workload on a file on
// the host's state directory, and reports MiB/s and the guest/host ratio.
func BenchmarkVolumeThroughput(b *testing.B) {
	c := sharedCloud(b)
	pc := c.AdminClient(b)
	cc := compute(b, pc, "")
	vc := blockStorage(b, pc, "3.44")
	ctx := context.Background()
	imageID := tinyServerImage(b, c, pc)
	flavorID := testFlavor(b, cc, 128, 1, 1)

	// Host: the same dd, same sizes, on a file beside the cloud's volumes.
	hostFile := filepath.Join(c.StateDir, "bench-throughput.raw")
	defer os.Remove(hostFile)
	hostRun := func(args ...string) float64 {
		start := time.Now()
		if out, err := exec.Command("dd", args...).CombinedOutput(); err != nil {
			b.Fatalf("dd %v: %v\n%s", args, err, out)
		}
		return float64(throughputMiB) / time.Since(start).Seconds()
	}
	count := fmt.Sprintf("count=%d", throughputMiB)
	hostWrite := hostRun("if=/dev/zero", "of="+hostFile, "bs=1M", count, "oflag=direct", "conv=notrunc")
	hostRead := hostRun("if="+hostFile, "of=/dev/null", "bs=1M", count, "iflag=direct")

	var guestWrite, guestRead float64
	for i := 0; i < b.N; i++ {
		vol := createVolume(b, vc, volumes.CreateOpts{Name: uniq("bench"), Size: 1})
		srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: uniq("bench-io"), ImageRef: imageID, FlavorRef: flavorID,
			Networks: "none", UserData: []byte(fmt.Sprintf(throughputScript, throughputMiB))}, nil).Extract()
		if err != nil {
			b.Fatal(err)
		}
		waitStatus(b, cc, srv.ID, "ACTIVE", 4*time.Minute)
		attachVolume(b, cc, vc, srv.ID, vol.ID)
		var m []string
		waitFor(b, 5*time.Minute, "the guest's throughput line", func() error {
			out, err := servers.ShowConsoleOutput(ctx, cc, srv.ID, servers.ShowConsoleOutputOpts{}).Extract()
			if err != nil {
				return err
			}
			if m = throughputLine.FindStringSubmatch(out); m == nil {
				return fmt.Errorf("not yet; console tail: %q", tailLines(out, 3))
			}
			return nil
		})
		t := make([]float64, 3)
		for j := range t {
			t[j], _ = strconv.ParseFloat(m[j+1], 64)
		}
		guestWrite = float64(throughputMiB) / (t[1] - t[0])
		guestRead = float64(throughputMiB) / (t[2] - t[1])
		if err := servers.Delete(ctx, cc, srv.ID).ExtractErr(); err != nil {
			b.Fatal(err)
		}
		waitVolume(b, vc, vol.ID, "available", 2*time.Minute)
	}
	b.ReportMetric(guestWrite, "guest-write-MiB/s")
	b.ReportMetric(guestRead, "guest-read-MiB/s")
	b.ReportMetric(hostWrite, "host-write-MiB/s")
	b.ReportMetric(hostRead, "host-read-MiB/s")
	b.ReportMetric(guestWrite/hostWrite, "write-ratio")
	b.ReportMetric(guestRead/hostRead, "read-ratio")
	b.Logf("FIGURE volume throughput (%d MiB, 1 MiB O_DIRECT): guest write %.1f MiB/s read %.1f MiB/s; host write %.1f read %.1f; ratio %.2f / %.2f",
		throughputMiB, guestWrite, guestRead, hostWrite, hostRead, guestWrite/hostWrite, guestRead/hostRead)
}
