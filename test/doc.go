// Package test holds kumo's end-to-end suites: they build and run real kumod
// processes, or a whole all-in-one in-process, and drive them only through
// their public interfaces (HTTP, gophercloud, the kumo CLI). It must not
// reach into any service's internals.
package test
