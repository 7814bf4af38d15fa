package uplink

import (
	"errors"
	"fmt"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/command"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// handleCommand verifies, runs and answers a command from the kiosk's cmd
// topic.
func (u *Uplink) handleCommand(c paho.Client, payload []byte) {
	reply := u.runCommand(payload)
	if reply == nil {
		return
	}
	kind := reply.kind
	result := map[rbdesv1.CommandResult]string{
		rbdesv1.CommandResult_COMMAND_RESULT_OK:       "ok",
		rbdesv1.CommandResult_COMMAND_RESULT_REJECTED: "rejected",
		rbdesv1.CommandResult_COMMAND_RESULT_FAILED:   "failed",
	}[reply.r.GetResult()]
	u.m.commands.WithLabelValues(kind, result).Inc()
	u.log.Info("command", zap.String("command_id", reply.r.GetCommandId()), zap.String("kind", kind), zap.String("result", result), zap.String("detail", reply.r.GetDetail()))
	if reply.r.GetCommandId() == "" {
		return // nothing the node could match a reply to
	}
	b, err := wire.Marshal(reply.r)
	if err != nil {
		u.log.Error("encoding a command reply failed", zap.Error(err))
		return
	}
	c.Publish(u.topics.CmdReply, 1, false, b)
}

type commandReply struct {
	kind string
	r    *rbdesv1.CommandReply
}

// runCommand returns the reply to a command payload.
func (u *Uplink) runCommand(payload []byte) *commandReply {
	const (
		ok       = rbdesv1.CommandResult_COMMAND_RESULT_OK
		rejected = rbdesv1.CommandResult_COMMAND_RESULT_REJECTED
		failed   = rbdesv1.CommandResult_COMMAND_RESULT_FAILED
	)
	if u.o.Commands == nil {
		return nil
	}
	cmd, err := u.o.Commands.Verify(payload)
	kind := command.Kind(cmd)
	if kind == "" {
		kind = "unknown"
	}
	r := &rbdesv1.CommandReply{CommandId: cmd.GetCommandId(), KioskId: u.o.KioskID, RepliedUnixMs: u.clk.Now().UnixMilli()}
	if len(r.CommandId) > command.MaxCommandID {
		r.CommandId = ""
	}
	out := &commandReply{kind: kind, r: r}
	if err != nil {
		if reason := command.ReasonOf(err); reason != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED {
			r.Result, r.Reason = rejected, reason
		} else {
			r.Result = failed
		}
		r.Detail = truncate(err.Error())
		return out
	}
	if !u.allow[kind] {
		r.Result, r.Reason = rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED
		r.Detail = fmt.Sprintf("%s is not in this kiosk's command allow-list", kind)
		return out
	}
	r.Result = ok
	switch body := cmd.GetBody().(type) {
	case *rbdesv1.Command_Ping, *rbdesv1.Command_ReportStatus:
		r.Status = u.status(rbdesv1.StatusKind_STATUS_KIND_REPORT, rbdesv1.KioskState_KIOSK_STATE_ONLINE)
	case *rbdesv1.Command_AddNodeKey, *rbdesv1.Command_RetireNodeKey:
		if u.o.NodeKeys == nil {
			r.Result, r.Reason, r.Detail = rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED, "this kiosk has no node key set to change"
			break
		}
		if err := command.ApplyKeyChange(u.o.NodeKeys, cmd); err != nil {
			r.Result, r.Detail = failed, truncate(err.Error())
			if reason := command.ReasonOf(err); reason != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED {
				r.Result, r.Reason = rejected, reason
			}
		}
	case *rbdesv1.Command_SetCapturePolicy:
		if u.o.Policy == nil {
			r.Result, r.Reason, r.Detail = rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED, "capture policy changes are not available on this kiosk"
			break
		}
		if err := u.o.Policy.SetCapturePolicy(body.SetCapturePolicy.GetValues()); err != nil {
			r.Result, r.Detail = failed, truncate(err.Error())
			if errors.Is(err, ErrInvalidPolicy) {
				r.Result, r.Reason = rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_INVALID_ARGUMENT
			}
		}
	}
	return out
}

// truncate shortens s to what a status or reply text field holds, keeping
// it valid UTF-8.
func truncate(s string) string {
	if len(s) > wire.MaxTextLen {
		s = s[:wire.MaxTextLen]
	}
	return strings.ToValidUTF8(s, "")
}
