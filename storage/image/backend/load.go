package backend

import (
	"fmt"
	"sort"
)

// drivers maps a driver kind to its constructor; cfg is driver-specific
// (a directory for "file", later a pool/bucket spec for "rbd" and "s3").
// It is fixed at compile time: adding a backend means adding a line here.
var drivers = map[string]func(cfg string) (Driver, error){
	"file": func(cfg string) (Driver, error) { return NewFile(cfg) },
}

// Open builds the driver named kind from its configuration string.
func Open(kind, cfg string) (Driver, error) {
	newDriver, ok := drivers[kind]
	if !ok {
		return nil, fmt.Errorf("unknown image backend %q (supported: %v)", kind, Kinds())
	}
	return newDriver(cfg)
}

// Kinds lists the registered driver kinds, sorted.
func Kinds() []string {
	kinds := make([]string, 0, len(drivers))
	for k := range drivers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}
