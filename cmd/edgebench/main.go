// Command edgebench is Lucid's load generator: TLS handshakes, inspected
// connections through a proxy, kept-alive requests, HTTP/2 streams on few
// connections, pipelined HTTP/1.1 requests and idle connections,
// with latency percentiles and the CPU each watched server spends per
// request.
//
//	edgebench run -workload handshake -target 127.0.0.1:8443 -cafile ca.pem -c 16 -duration 10s
//	edgebench chart -o out.svg results.jsonl
//
// Each subcommand is an entry of commands; files of this package add
// theirs from init, so that main never needs to know them all.
package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
)

// commands maps a subcommand to its function, which gets the arguments
// after the subcommand's name and returns the exit status.
var commands = map[string]func(args []string) int{
	"run":   runCmd,
	"chart": chartCmd,
}

// summaries are the one-line descriptions printed by usage; a command
// without one is listed by name only.
var summaries = map[string]string{
	"run":   "run a workload and report requests/s, latency and CPU per request",
	"chart": "draw an SVG chart from the JSON lines of `run -json`",
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: edgebench COMMAND [flags]   (edgebench COMMAND -h for its flags)")
	fmt.Fprintln(w, "commands:")
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-8s %s\n", name, summaries[name])
	}
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		if h := os.Args[1]; h == "-h" || h == "-help" || h == "--help" || h == "help" {
			usage(os.Stdout)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "edgebench: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	os.Exit(cmd(os.Args[2:]))
}
