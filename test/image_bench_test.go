package test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// BenchmarkImageUploadDownload moves a 256 MiB raw image through the image
// API (upload with inspection, then download to a file) and compares with a
// plain cp of the same file on the same disk. It reports upload-MiB/s,
// download-MiB/s and cp-MiB/s.
func BenchmarkImageUploadDownload(b *testing.B) {
	const size = 256 << 20
	c := sharedCloud(b)
	admin := c.AdminClient(b)
	ic := imageClient(b, admin)
	// The state dir and the temporary files share a disk (both under $TMPDIR).
	dir, err := os.MkdirTemp(filepath.Dir(c.StateDir), "kumo-image-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	src := filepath.Join(dir, "src.raw")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	mib := float64(size) / (1 << 20)

	var up, down, cp time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img := createImage(b, ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})

		in, _ := os.Open(src)
		req, _ := http.NewRequest("PUT", c.URL+"/image/v2/images/"+img.ID+"/file", in)
		req.ContentLength = size
		req.Header.Set("X-Auth-Token", admin.Token())
		req.Header.Set("Content-Type", "application/octet-stream")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		in.Close()
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			b.Fatalf("upload: %d", resp.StatusCode)
		}
		up += time.Since(start)

		out := filepath.Join(dir, "down.raw")
		start = time.Now()
		req, _ = http.NewRequest("GET", c.URL+"/image/v2/images/"+img.ID+"/file", nil)
		req.Header.Set("X-Auth-Token", admin.Token())
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		of, _ := os.Create(out)
		n, err := io.Copy(of, resp.Body)
		resp.Body.Close()
		if err == nil {
			err = of.Sync()
		}
		of.Close()
		if err != nil || n != size {
			b.Fatalf("download: %d bytes, %v", n, err)
		}
		down += time.Since(start)
		os.Remove(out)

		start = time.Now()
		if o, err := exec.Command("cp", src, out).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, o)
		}
		if o, err := exec.Command("sync", out).CombinedOutput(); err != nil {
			b.Fatalf("sync: %v %s", err, o)
		}
		cp += time.Since(start)
		os.Remove(out)
		if err := images.Delete(context.Background(), ic, img.ID).ExtractErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(mib*n/up.Seconds(), "upload-MiB/s")
	b.ReportMetric(mib*n/down.Seconds(), "download-MiB/s")
	b.ReportMetric(mib*n/cp.Seconds(), "cp-MiB/s")
}
