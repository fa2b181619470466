// Package store owns identity's tables: domains, projects, users, groups,
// roles, assignments, the catalog, application credentials and revocation
// records; typed methods and closure transactions; nothing outside it
// touches gorm for identity.
//
// Methods return errors wrapping ErrNotFound (a missing row, or a reference
// to a row that does not exist), ErrConflict (a duplicate name, or a delete
// refused because something still refers to the row) or ErrInvalid (a value
// the schema does not allow), each with a message naming the entity. Lists
// are sorted by name, then ID, unless their doc says otherwise.
package store
