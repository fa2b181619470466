// Package glance is the client every service uses to reach the image
// service (Glance v2) over HTTP: compute checks boot images and uploads
// snapshots, block storage reads images into volumes and uploads volumes
// as images. Every call acts with the caller's own token, as OpenStack
// services act with the request context, so the image service's
// visibility and ownership rules apply unchanged. It speaks HTTP through
// gophercloud, holds no state and must not import any service package.
package glance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// ErrNotFound means the image does not exist or the caller may not see it.
var ErrNotFound = errors.New("glance: image not found")

// Image is an image as the image API shows it.
type Image = images.Image

// Client reaches one image endpoint.
type Client struct {
	url  string
	http http.Client
}

// New returns a client of the image endpoint at url (the catalog's image
// URL, without the /v2 version, e.g. http://127.0.0.1:8080/image).
func New(url string) *Client {
	// Uploads and downloads stream large files: no overall timeout, the
	// caller's context bounds each call.
	return &Client{url: strings.TrimRight(url, "/"), http: http.Client{Transport: http.DefaultTransport}}
}

// URL is the image endpoint.
func (c *Client) URL() string { return c.url }

// ImageURL is the versionless URL of an image, as Nova's Location header of
// createImage names it.
func (c *Client) ImageURL(id string) string { return c.url + "/images/" + id }

func (c *Client) service(token string) *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: c.http}
	pc.SetToken(token)
	return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: c.url + "/", ResourceBase: c.url + "/v2/", Type: "image"}
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Get returns an image the token's project may see.
func (c *Client) Get(ctx context.Context, token, id string) (*Image, error) {
	img, err := images.Get(ctx, c.service(token), id).Extract()
	return img, wrap(err, "image "+id)
}

// Download streams an image's data; the caller closes it.
func (c *Client) Download(ctx context.Context, token, id string) (io.ReadCloser, error) {
	r, err := imagedata.Download(ctx, c.service(token), id).Extract()
	return r, wrap(err, "download image "+id)
}

// Create creates an image record (queued, no data yet).
func (c *Client) Create(ctx context.Context, token string, opts images.CreateOpts) (*Image, error) {
	img, err := images.Create(ctx, c.service(token), opts).Extract()
	return img, wrap(err, "create image")
}

// SetFormats sets an image's disk and container formats, for an image
// created without them (a Nova snapshot is).
func (c *Client) SetFormats(ctx context.Context, token, id, diskFormat, containerFormat string) error {
	_, err := images.Update(ctx, c.service(token), id, images.UpdateOpts{
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "disk_format", Value: diskFormat},
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "container_format", Value: containerFormat},
	}).Extract()
	return wrap(err, "set formats of image "+id)
}

// Upload uploads an image's data.
func (c *Client) Upload(ctx context.Context, token, id string, data io.Reader) error {
	return wrap(imagedata.Upload(ctx, c.service(token), id, data).ExtractErr(), "upload image "+id)
}

// Delete deletes an image; one already gone is not an error.
func (c *Client) Delete(ctx context.Context, token, id string) error {
	err := wrap(images.Delete(ctx, c.service(token), id).ExtractErr(), "delete image "+id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
