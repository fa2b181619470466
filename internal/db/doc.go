// Package db owns PostgreSQL: the private cluster kumo starts for itself, gorm
// connections, and applying each service's migrations. It must not define any
// service's tables or queries; those live in each service's store package and
// in migrations/<service>.
package db
