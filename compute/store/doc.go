// Package store owns the compute API's tables (flavors, flavor_projects,
// key_pairs, instances with their actions and action events, server groups
// and their members, compute_services, block device mappings) through gorm: typed methods, closure
// transactions and translation of database errors into the package's
// sentinels. It knows nothing about HTTP, policy or microversions, and it
// must not touch another service's tables; the one exception is reading the
// core nodes table, which every service may read.
package store
