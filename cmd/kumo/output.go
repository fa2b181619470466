package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// field is one named value of a shown object.
type field struct {
	name  string
	value any
}

// printObject shows one object: a FIELD/VALUE table, or a JSON object.
func printObject(cmd *cobra.Command, fields []field) error {
	out := cmd.OutOrStdout()
	switch global.format {
	case "json":
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			m[f.name] = f.value
		}
		return writeJSON(cmd, m)
	case "table", "":
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "FIELD\tVALUE")
		for _, f := range fields {
			fmt.Fprintf(w, "%s\t%s\n", f.name, text(f.value))
		}
		return w.Flush()
	}
	return badFormat()
}

// printList shows rows under columns: an aligned table, or a JSON array of
// objects keyed by column.
func printList(cmd *cobra.Command, columns []string, rows [][]any) error {
	out := cmd.OutOrStdout()
	switch global.format {
	case "json":
		list := make([]map[string]any, 0, len(rows))
		for _, r := range rows {
			m := make(map[string]any, len(columns))
			for i, c := range columns {
				m[c] = r[i]
			}
			list = append(list, m)
		}
		return writeJSON(cmd, list)
	case "table", "":
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		head := make([]string, len(columns))
		for i, c := range columns {
			head[i] = strings.ToUpper(strings.ReplaceAll(c, "_", " "))
		}
		fmt.Fprintln(w, strings.Join(head, "\t"))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, v := range r {
				cells[i] = text(v)
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		return w.Flush()
	}
	return badFormat()
}

func writeJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func badFormat() error {
	return fmt.Errorf("unknown output format %q (want table or json)", global.format)
}

// text renders a value in a table cell.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// timeValue is a time for output: RFC 3339 in UTC, or nil when unset.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
