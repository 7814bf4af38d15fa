package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/config"
)

func runConfigCheck(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "config check", "FILE", "Validate a kioskd config file (or, with -node, an rbdes-node config) the way\nthe daemon does at start, and report every problem at once. Exit status 0 when\nvalid, 1 when not.")
	node := fs.Bool("node", false, "the file is an rbdes-node config")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want exactly one FILE")
	}
	path := fs.Arg(0)
	var err error
	if *node {
		_, err = config.LoadNode(path)
	} else {
		_, err = config.LoadKiosk(path)
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return &exitError{code: 1, msg: err.Error()}
		}
		return err
	}
	fmt.Fprintf(st.out, "%s: valid\n", path)
	return nil
}
