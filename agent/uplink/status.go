package uplink

import (
	"fmt"
	"sort"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// status builds a Status of the given kind and state from the outbox's
// figures, the devices and the raised alarms.
func (u *Uplink) status(kind rbdesv1.StatusKind, state rbdesv1.KioskState) *rbdesv1.Status {
	st := u.q.Stats()
	u.mu.Lock()
	epoch := u.epoch
	var alarms []string
	for _, a := range u.alarms {
		alarms = append(alarms, a.Kind+": "+a.Message)
	}
	u.mu.Unlock()
	sort.Strings(alarms)
	if st.Alarm > 0 {
		alarms = append(alarms, fmt.Sprintf("outbox: %d%% full (%d of %d bytes)", st.Alarm, st.UsedBytes, st.MaxBytes))
	}
	if len(alarms) > wire.MaxStatusItems {
		alarms = alarms[:wire.MaxStatusItems]
	}
	for i, a := range alarms {
		alarms[i] = truncate(a)
	}
	s := &rbdesv1.Status{
		KioskId:            u.o.KioskID,
		State:              state,
		Kind:               kind,
		BootEpoch:          u.o.BootEpoch,
		ConnectEpoch:       epoch,
		SentUnixMs:         u.clk.Now().UnixMilli(),
		AgentVersion:       u.o.Version,
		AgentCommit:        u.o.Commit,
		QueueDepth:         uint64(max(st.Records, 0)),
		QueueBytes:         uint64(max(st.UsedBytes, 0)),
		OldestUnackedAgeMs: st.OldestUnackedAge.Milliseconds(),
		DeadLetters:        uint64(st.DeadLetters),
		Site:               u.o.Site,
		Alarms:             alarms,
	}
	if kind == rbdesv1.StatusKind_STATUS_KIND_WILL {
		s.QueueDepth, s.QueueBytes, s.OldestUnackedAgeMs, s.Alarms = 0, 0, 0, nil
	}
	if u.o.Devices != nil && kind != rbdesv1.StatusKind_STATUS_KIND_WILL {
		s.Devices = u.o.Devices()
		if len(s.Devices) > wire.MaxStatusItems {
			s.Devices = s.Devices[:wire.MaxStatusItems]
		}
	}
	return s
}

// publishStatus publishes a status of kind on the status topic (retained
// for birth, heartbeat and shutdown) without waiting for the broker.
func (u *Uplink) publishStatus(c paho.Client, kind rbdesv1.StatusKind, online bool) paho.Token {
	state := rbdesv1.KioskState_KIOSK_STATE_ONLINE
	if !online {
		state = rbdesv1.KioskState_KIOSK_STATE_OFFLINE
	}
	b, err := wire.Marshal(u.status(kind, state))
	if err != nil {
		u.log.Error("encoding a status failed", zap.Error(err))
		return nil
	}
	return c.Publish(u.topics.Status, 1, true, b)
}

// shutdown publishes the retained offline status of a clean stop, waits a
// moment for it to leave, and disconnects.
func (u *Uplink) shutdown(c paho.Client) {
	if tok := u.publishStatus(c, rbdesv1.StatusKind_STATUS_KIND_SHUTDOWN, false); tok != nil {
		t := u.clk.NewTimer(time.Second)
		select {
		case <-tok.Done():
		case <-t.C():
		}
		t.Stop()
	}
	c.Disconnect(250)
	u.log.Info("disconnected from broker")
}
