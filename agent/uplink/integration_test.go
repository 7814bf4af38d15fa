package uplink_test

import (
	"testing"
	"time"
)

func TestDeliverOverMochi(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	n := r.startNode("node-idn-1", r.sqliteStore(), b.URL())
	k := r.startKiosk("kiosk-001", kioskOptions{}, b.URL())
	k.save(t, 50, 2000)
	k.drained(t, 30*time.Second)
	checkStored(t, n.store, "kiosk-001", 50)
}
