// Package store owns the image service's tables (images, image_members)
// through gorm: typed methods, closure transactions and translation of
// database errors into the package's sentinels. It knows nothing about HTTP,
// policy or the image data itself, which lives in the image backend.
package store
