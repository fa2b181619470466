package datapath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where iproute2 and the netns package keep named namespaces.
const netnsDir = "/run/netns"

// inNamespace runs fn on a locked OS thread switched into the named
// namespace and switches back. If switching back fails the thread is left
// locked so the Go runtime discards it rather than reuse a thread in the
// wrong namespace.
func inNamespace(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromName(name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("namespace %s: %w", name, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", name, err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ensureNamespace creates the named namespace if it does not exist, with
// its loopback up, and returns a netlink handle bound to it.
func ensureNamespace(name string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		ns, err = createNamespace(name)
		if err != nil {
			return nil, 0, fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, 0, err
	}
	lo, err := h.LinkByName("lo")
	if err == nil && lo.Attrs().Flags&1 == 0 {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		h.Close()
		ns.Close()
		return nil, 0, fmt.Errorf("namespace %s loopback: %w", name, err)
	}
	return h, ns, nil
}

func createNamespace(name string) (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := netns.NewNamed(name) // switches this thread into it
		if rerr := netns.Set(orig); rerr != nil {
			res <- result{ns: ns, err: errors.Join(err, rerr)}
			return // leave the thread locked: it is in the wrong namespace
		}
		runtime.UnlockOSThread()
		res <- result{ns: ns, err: err}
	}()
	r := <-res
	return r.ns, r.err
}

// deleteNamespace removes a named namespace; its links go with it (a veth
// whose end is inside disappears with its peer).
func deleteNamespace(name string) error {
	err := netns.DeleteNamed(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// namespaces lists the named namespaces on the host.
func namespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// namespaceExists reports whether a named namespace exists.
func namespaceExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// writeSysctl sets a sysctl inside a namespace ("" for the root one) if it
// differs. /proc/sys/net resolves to the namespace of the opening thread.
func writeSysctl(ns, key, value string) error {
	path := filepath.Join("/proc/sys", filepath.FromSlash(key))
	set := func() error {
		cur, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(cur) == value+"\n" {
			return nil
		}
		return os.WriteFile(path, []byte(value), 0o644)
	}
	if ns == "" {
		return set()
	}
	return inNamespace(ns, set)
}
