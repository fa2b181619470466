// Package store owns placement's tables: resource providers, their
// inventories, aggregates and traits, consumers and their allocations;
// typed methods and closure transactions; nothing outside it touches gorm
// for placement.
//
// Claims are race-free: every method that changes a provider's allocations
// or inventory locks the consumer rows and then the provider rows it touches
// (each set in uuid order, so two callers cannot deadlock), re-reads usage
// under those locks and bumps the provider's generation. Concurrent claims
// therefore never overcommit a provider.
//
// Methods return errors wrapping ErrNotFound, ErrConflict (a duplicate name,
// or a delete refused because allocations still refer to it), ErrInvalid (a
// malformed uuid, resource class or amount) or a *CapacityError (matching
// ErrCapacity) naming the resource class and the numbers that did not fit.
package store
