package command

import (
	"errors"
	"fmt"
	"math"

	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// ApplyKeyChange carries out a verified AddNodeKey or RetireNodeKey command
// on the kiosk's node key set; the change is on disk when it returns nil.
// A change the set's rules refuse (a third key, retiring the last key, a
// key id that holds another key, a key of another suite, a malformed public
// key) is a *Rejection with INVALID_ARGUMENT; any other error (the state
// file could not be written) means the command failed and the set is
// unchanged. Commands of other kinds are refused with NOT_ALLOWED: this
// function changes node keys and nothing else.
func ApplyKeyChange(set *keys.NodeKeySet, cmd *rbdesv1.Command) error {
	const invalid = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_INVALID_ARGUMENT
	var err error
	switch body := cmd.GetBody().(type) {
	case *rbdesv1.Command_AddNodeKey:
		a := body.AddNodeKey
		if !seal.ValidKeyID(a.GetKeyId()) {
			return reject(invalid, nil, "add_node_key: key id %q is not a key id", a.GetKeyId())
		}
		if a.GetKemId() > math.MaxUint16 {
			return reject(invalid, nil, "add_node_key %s: KEM id %d is beyond the 16-bit registry", a.GetKeyId(), a.GetKemId())
		}
		kem, kerr := seal.KEM(uint16(a.GetKemId()))
		if kerr != nil {
			return reject(invalid, kerr, "add_node_key %s: %v", a.GetKeyId(), kerr)
		}
		pub, kerr := kem.NewPublicKey(a.GetPublicKey())
		if kerr != nil {
			return reject(invalid, kerr, "add_node_key %s: public key is not a valid %s key", a.GetKeyId(), seal.KEMName(kem.ID()))
		}
		err = set.Add(seal.Recipient{KeyID: a.GetKeyId(), Key: pub}, a.GetMakeCurrent())
	case *rbdesv1.Command_RetireNodeKey:
		err = set.Retire(body.RetireNodeKey.GetKeyId())
	default:
		return reject(rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED, nil, "command %s is %q, not a node key change", cmd.GetCommandId(), Kind(cmd))
	}
	if errors.Is(err, keys.ErrRefused) {
		return reject(invalid, err, "%v", err)
	}
	if err != nil {
		return fmt.Errorf("command: %s %s failed: %w", Kind(cmd), cmd.GetCommandId(), err)
	}
	return nil
}
