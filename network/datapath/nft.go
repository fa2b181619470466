package datapath

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// applyRuleset replaces one nftables table atomically, in the root
// namespace (ns "") or a named one, unless the same ruleset was the last
// one applied. The ruleset text must define exactly one table; it is
// loaded in one transaction that also deletes the table's previous
// version, so packets never see a half-built table.
//
// Rules are loaded through nft(8) rather than built expression by
// expression with google/nftables: the whole table is one readable text,
// golden-testable, and swapped in one kernel transaction.
//
// A table someone removed behind our back (or a namespace recreated) is
// loaded again even when its text did not change.
func (d *Datapath) applyRuleset(key, ns, ruleset string) error {
	family, table, err := tableOf(ruleset)
	if err != nil {
		return err
	}
	if d.applied[key] == ruleset {
		exists, err := tableExists(ns, family, table)
		if err != nil {
			return err
		}
		if exists {
			return nil
		}
	}
	// "add table" makes the delete valid when the table does not exist yet.
	script := fmt.Sprintf("add table %s %s\ndelete table %s %s\n%s", family, table, family, table, ruleset)
	if err := runNft(ns, script); err != nil {
		return err
	}
	d.applied[key] = ruleset
	return nil
}

func tableOf(ruleset string) (family, table string, err error) {
	for _, line := range strings.Split(ruleset, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "table" {
			return f[1], f[2], nil
		}
	}
	return "", "", fmt.Errorf("ruleset without table")
}

// deleteTable removes a table if it exists.
func (d *Datapath) deleteTable(key, ns, family, table string) error {
	delete(d.applied, key)
	return runNft(ns, fmt.Sprintf("add table %s %s\ndelete table %s %s\n", family, table, family, table))
}

func runNft(ns, script string) error {
	args := []string{"-f", "-"}
	name := "nft"
	if ns != "" {
		args = append([]string{"netns", "exec", ns, "nft"}, args...)
		name = "ip"
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// families maps nft(8) family names to the kernel's.
var families = map[string]nftables.TableFamily{
	"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6, "inet": nftables.TableFamilyINet,
	"bridge": nftables.TableFamilyBridge, "arp": nftables.TableFamilyARP, "netdev": nftables.TableFamilyNetdev,
}

// tableExists asks the kernel (over netlink, in the root namespace or a
// named one) whether a table exists.
func tableExists(ns, family, table string) (bool, error) {
	f, ok := families[family]
	if !ok {
		return false, fmt.Errorf("unknown nftables family %q", family)
	}
	var opts []nftables.ConnOption
	if ns != "" {
		h, err := netns.GetFromName(ns)
		if err != nil {
			return false, fmt.Errorf("namespace %s: %w", ns, err)
		}
		defer h.Close()
		opts = append(opts, nftables.WithNetNSFd(int(h)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return false, err
	}
	tables, err := c.ListTablesOfFamily(f)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == table {
			return true, nil
		}
	}
	return false, nil
}

// listTables lists the root namespace's nftables tables as "family name".
func listTables() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var out []string
	for _, t := range tables {
		for name, f := range families {
			if f == t.Family {
				out = append(out, name+" "+t.Name)
			}
		}
	}
	return out, nil
}
