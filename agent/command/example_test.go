package command_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/command"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// The node signs a command for one kiosk; the kiosk verifies it before its
// uplink decides whether the command kind is allowed and runs it.
func ExampleVerifier_Verify() {
	cmdPub, cmdKey, _ := ed25519.GenerateKey(rand.Reader)

	// Node side (keys.LoadNode reads the command key).
	signer, _ := command.NewSigner("cmd-1", cmdKey, nil)
	cmd := &rbdesv1.Command{KioskId: "kiosk-001", Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
	if err := signer.Sign(cmd); err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := proto.Marshal(cmd) // publish on rbdes/v1/{cc}/kiosk/kiosk-001/cmd

	// Kiosk side: command keys from keys.LoadKiosk, nonces in the state dir.
	dir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(dir)
	nonces, _ := command.OpenFileNonces(filepath.Join(dir, "command-nonces.json"), 0)
	v, _ := command.NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": cmdPub}, nonces, nil)

	got, err := v.Verify(payload)
	fmt.Println(command.Kind(got), err)
	// For add_node_key and retire_node_key the uplink then calls
	// command.ApplyKeyChange(nodeKeySet, got).

	_, err = v.Verify(payload) // the same command again
	fmt.Println(command.ReasonOf(err))
	// Output:
	// ping <nil>
	// COMMAND_REJECT_REASON_REPLAYED
}
