package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/storage/image/backend"
	"github.com/kumo-cloud/kumo/storage/image/inspect"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

// errTruncated is a body that ended before its declared length.
var errTruncated = errors.New("image data truncated")

// errQuotaStream is a body that grew past the project's remaining size quota.
type errQuotaStream struct{ limit int64 }

func (e errQuotaStream) Error() string {
	return fmt.Sprintf("Denying attempt to upload image because it exceeds the quota: the remaining image_size_total is %d bytes.", e.limit)
}

// ingested is what streaming image data computed.
type ingested struct {
	size        int64
	virtualSize int64
	checksum    string
	hashValue   string
}

// begin moves an image from one of the allowed statuses to next, so that
// only one upload runs at a time; the status it left is returned.
func (s *Service) begin(ctx context.Context, id string, allowed []string, next string) (store.Image, error) {
	var img store.Image
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if img, err = tx.LockImage(ctx, id); err != nil {
			return err
		}
		ok := false
		for _, st := range allowed {
			ok = ok || img.Status == st
		}
		if !ok {
			return api.Conflict("Image status transition from %s to %s is not allowed", img.Status, next)
		}
		if img.DiskFormat == nil || img.ContainerFormat == nil {
			return api.BadRequest("Properties disk_format, container_format must be set prior to saving data.")
		}
		img.Status = next
		return tx.SaveImage(ctx, &img)
	})
	return img, err
}

// setStatus moves an image back after a failed upload, if it still exists
// in the status the upload left it in.
func (s *Service) setStatus(ctx context.Context, id, from, to string) {
	ctx = context.WithoutCancel(ctx)
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		img, err := tx.LockImage(ctx, id)
		if err != nil || img.Status != from {
			return err
		}
		img.Status = to
		return tx.SaveImage(ctx, &img)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("reset image status", "image_id", id, "status", to, "error", err)
	}
}

// remaining is how many more bytes the project may store, or -1.
func (s *Service) remaining(ctx context.Context, project string) (int64, error) {
	usage, err := s.quota.Usage(ctx, project)
	if err != nil {
		return 0, err
	}
	u, ok := usage[ResourceSizeTotal]
	if !ok || u.Limit < 0 {
		return -1, nil
	}
	return max(u.Limit-u.InUse-u.Reserved, 0), nil
}

// ingest streams r (of declared length want, -1 if unknown) into the
// backend, inspects it as the image's disk_format, and on success commits
// it and activates the image, charging its size to the owner's quota in the
// same transaction. from is the status the caller moved the image to.
//
// On failure nothing stays in the backend; a refused image is killed, any
// other failure returns the image to queued (so it can be uploaded again).
func (s *Service) ingest(ctx context.Context, img store.Image, from string, r io.Reader, want int64) (_ store.Image, err error) {
	log := s.log.With("image_id", img.ID)
	undo := revert.New()
	failStatus := store.StatusQueued
	defer func() {
		if err != nil {
			if ferr := undo.Fail(context.WithoutCancel(ctx)); ferr != nil {
				log.Error("clean up failed upload", "error", ferr)
			}
			s.setStatus(ctx, img.ID, from, failStatus)
			log.Info("image upload failed", "error", err, "status", failStatus)
		}
	}()
	left, err := s.remaining(ctx, img.Owner)
	if err != nil {
		return img, api.Internal(err)
	}
	if left >= 0 && want > left {
		return img, api.QuotaExceeded("%s", errQuotaStream{limit: left}.Error())
	}
	up, err := s.driver.Create(ctx, img.ID)
	if err != nil {
		return img, api.Internal(err)
	}
	undo.Add(func(context.Context) error { return up.Abort() })
	dg, err := hashCopy(up, r, left)
	n := dg.n
	var mbe *http.MaxBytesError
	var qe errQuotaStream
	switch {
	case errors.As(err, &qe):
		return img, api.QuotaExceeded("%s", qe.Error())
	case errors.As(err, &mbe):
		return img, api.TooLarge("Image data is larger than the limit of %d bytes.", mbe.Limit)
	case err != nil:
		return img, api.BadRequest("The image data could not be read in full: %v", err)
	case want >= 0 && n != want:
		return img, api.BadRequest("%v: received %d of %d bytes", errTruncated, n, want)
	}
	diskFormat := ""
	if img.DiskFormat != nil {
		diskFormat = *img.DiskFormat
	}
	res, err := inspect.Inspect(ctx, up.StagedPath(), diskFormat, s.cfg.Inspect)
	var refused *inspect.RefusedError
	switch {
	case errors.As(err, &refused):
		failStatus = store.StatusKilled
		return img, api.BadRequest("Image refused: %s", refused.Reason)
	case err != nil:
		return img, api.Internal(fmt.Errorf("inspect image %s: %w", img.ID, err))
	}
	if err := up.Commit(); err != nil {
		return img, api.Internal(err)
	}
	undo.Add(func(ctx context.Context) error { return s.driver.Delete(ctx, img.ID) })
	out := ingested{size: n, virtualSize: res.VirtualSize, checksum: dg.md5, hashValue: dg.sha512}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockImage(ctx, img.ID)
		if err != nil {
			return err
		}
		if cur.Status != from {
			return api.Conflict("Image %s changed status to %s during the upload.", img.ID, cur.Status)
		}
		if err := tx.ConsumeQuota(ctx, s.quota, cur.Owner, map[string]int64{ResourceSizeTotal: out.size - cur.ChargedSize}); err != nil {
			return err
		}
		sha := "sha512"
		cur.Status, cur.Size, cur.VirtualSize = store.StatusActive, &out.size, &out.virtualSize
		cur.Checksum, cur.OSHashAlgo, cur.OSHashValue = &out.checksum, &sha, &out.hashValue
		cur.Store, cur.ChargedSize = s.driver.Name(), out.size
		img = cur
		return tx.SaveImage(ctx, &cur)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Deleted while uploading: the data goes with it.
			return img, &api.Error{Kind: api.KindConflict, Message: fmt.Sprintf("Image %s was deleted during the upload.", img.ID), Err: err}
		}
		return img, s.storeError(err, img.ID)
	}
	undo.Success()
	log.Info("image active", "size", out.size, "virtual_size", out.virtualSize)
	s.publish(ctx, "upload", img)
	return img, nil
}

func (s *Service) upload(c *gin.Context) (*api.Response, error) {
	if err := octetStream(c); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	id := c.Param("image_id")
	img, err := s.begin(ctx, id, []string{store.StatusQueued}, store.StatusSaving)
	if err != nil {
		return nil, s.storeError(err, id)
	}
	if _, err := s.ingest(ctx, img, store.StatusSaving, c.Request.Body, c.Request.ContentLength); err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}

func octetStream(c *gin.Context) error {
	ct, _, _ := strings.Cut(c.GetHeader("Content-Type"), ";")
	if ct = strings.TrimSpace(strings.ToLower(ct)); ct != "" && ct != "application/octet-stream" {
		return &api.Error{Kind: api.KindUnsupportedMediaType, Message: fmt.Sprintf("Unsupported Content-Type %q: image data is application/octet-stream.", ct)}
	}
	return nil
}

// stage stores data for a later glance-direct import (status uploading).
func (s *Service) stage(c *gin.Context) (*api.Response, error) {
	if err := octetStream(c); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	id := c.Param("image_id")
	img, err := s.store.GetImage(ctx, id)
	if err != nil {
		return nil, s.storeError(err, id)
	}
	if img.Status != store.StatusQueued {
		return nil, api.Conflict("Image status transition from %s to uploading is not allowed", img.Status)
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockImage(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status != store.StatusQueued {
			return api.Conflict("Image status transition from %s to uploading is not allowed", cur.Status)
		}
		cur.Status = store.StatusUploading
		return tx.SaveImage(ctx, &cur)
	})
	if err != nil {
		return nil, s.storeError(err, id)
	}
	ok := false
	defer func() {
		if !ok {
			s.setStatus(ctx, id, store.StatusUploading, store.StatusQueued)
		}
	}()
	left, err := s.remaining(ctx, img.Owner)
	if err != nil {
		return nil, api.Internal(err)
	}
	want := c.Request.ContentLength
	if left >= 0 && want > left {
		return nil, api.QuotaExceeded("%s", errQuotaStream{limit: left}.Error())
	}
	up, err := s.staging.Create(ctx, id)
	if err != nil {
		return nil, api.Internal(err)
	}
	defer up.Abort()
	dg, err := hashCopy(up, c.Request.Body, left)
	n := dg.n
	var qe errQuotaStream
	switch {
	case errors.As(err, &qe):
		return nil, api.QuotaExceeded("%s", qe.Error())
	case err != nil:
		return nil, api.BadRequest("The image data could not be read in full: %v", err)
	case want >= 0 && n != want:
		return nil, api.BadRequest("%v: received %d of %d bytes", errTruncated, n, want)
	}
	if err := up.Commit(); err != nil {
		return nil, api.Internal(err)
	}
	ok = true
	return api.NoContent(), nil
}

// importImage starts a glance-direct import of staged data: 202 at once,
// the image becomes active (or killed) when inspection is done.
func (s *Service) importImage(c *gin.Context) (*api.Response, error) {
	var body struct {
		Method struct {
			Name string `json:"name"`
		} `json:"method"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Method.Name != "glance-direct" {
		return nil, api.BadRequest("Import method %q is not supported: use glance-direct.", body.Method.Name)
	}
	ctx := c.Request.Context()
	id := c.Param("image_id")
	img, err := s.begin(ctx, id, []string{store.StatusUploading}, store.StatusImporting)
	if err != nil {
		return nil, s.storeError(err, id)
	}
	obj, err := s.staging.Open(ctx, id)
	if err != nil {
		s.setStatus(ctx, id, store.StatusImporting, store.StatusQueued)
		if errors.Is(err, backend.ErrNotFound) {
			return nil, api.Conflict("Image %s has no staged data to import.", id)
		}
		return nil, api.Internal(err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer obj.Close()
		_, err := s.ingest(s.ctx, img, store.StatusImporting, obj, obj.Size())
		if err != nil {
			s.log.Warn("glance-direct import failed", "image_id", id, "error", err)
		}
		if err := s.staging.Delete(context.WithoutCancel(s.ctx), id); err != nil {
			s.log.Warn("delete staged image data", "image_id", id, "error", err)
		}
	}()
	return api.Accepted(nil), nil
}

// download streams an image's data, honouring a single byte range.
func (s *Service) download(c *gin.Context) (*api.Response, error) {
	img, err := s.visibleImage(c)
	if err != nil {
		return nil, err
	}
	if img.Status == store.StatusDeactivated && !s.isAdmin(c) {
		return nil, api.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
	}
	if img.Status != store.StatusActive && img.Status != store.StatusDeactivated {
		return api.NoContent(), nil
	}
	ctx := c.Request.Context()
	obj, err := s.driver.Open(ctx, img.ID)
	if errors.Is(err, backend.ErrNotFound) {
		return api.NoContent(), nil
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	// The request's context ends when the handler has written the response
	// (or the client went away): close the object then.
	context.AfterFunc(ctx, func() { obj.Close() })
	size := obj.Size()
	resp := &api.Response{Status: http.StatusOK, Stream: bigCopy{obj}, ContentType: "application/octet-stream"}
	if img.Checksum != nil {
		resp.WithHeader("Content-MD5", *img.Checksum)
	}
	if rng := c.GetHeader("Range"); rng != "" {
		start, end, ok := parseRange(rng, size)
		if !ok {
			return nil, &api.Error{Kind: api.KindBadRequest, Message: "Requested range not satisfiable"}
		}
		if _, err := obj.Seek(start, io.SeekStart); err != nil {
			return nil, api.Internal(err)
		}
		resp.Status = http.StatusPartialContent
		resp.Stream = bigCopy{io.LimitReader(obj, end-start+1)}
		resp.WithHeader("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
		resp.WithHeader("Content-Length", strconv.FormatInt(end-start+1, 10))
		return resp, nil
	}
	return resp.WithHeader("Content-Length", strconv.FormatInt(size, 10)), nil
}

// parseRange reads "bytes=a-b", "bytes=a-" or "bytes=-n" against size.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	var err error
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		start, end = max(size-n, 0), size-1
	default:
		if start, err = strconv.ParseInt(a, 10, 64); err != nil {
			return 0, 0, false
		}
		end = size - 1
		if b != "" {
			if end, err = strconv.ParseInt(b, 10, 64); err != nil {
				return 0, 0, false
			}
			end = min(end, size-1)
		}
	}
	return start, end, start >= 0 && start <= end && start < size
}
