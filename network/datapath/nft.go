package datapath

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
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
func (d *Datapath) applyRuleset(key, ns, ruleset string) error {
	if d.applied[key] == ruleset {
		return nil
	}
	family, table, err := tableOf(ruleset)
	if err != nil {
		return err
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

// listTables lists the root namespace's nftables tables as "family name".
func listTables() ([]string, error) {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %w", err)
	}
	var tables []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "table" {
			tables = append(tables, f[1]+" "+f[2])
		}
	}
	return tables, nil
}
