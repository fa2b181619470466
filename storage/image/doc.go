// Package image is kumo's Glance v2 image service: the HTTP API (images,
// data upload and download, glance-direct import, members, tags, schemas),
// the visibility and sharing rules, image quotas and events. It owns the
// image rows through storage/image/store and the data through a
// storage/image/backend driver, and it inspects every upload with
// storage/image/inspect before an image becomes active. It must not touch
// other services' tables or import other service packages.
package image
