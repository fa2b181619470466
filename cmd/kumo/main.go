// Command kumo is the kumo command-line client. It reads clouds.yaml and
// OS_* variables like the openstack CLI does; each verb lives in its own file.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "kumo: %s\n", strings.Join(strings.Fields(describe(err)), " "))
		os.Exit(1)
	}
}
