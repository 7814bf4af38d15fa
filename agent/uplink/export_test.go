package uplink

// OverrideCaptureTopic makes u publish its records on topic: a kiosk
// misconfigured to publish on another kiosk's topic, for the ACL test. Call
// it before Run.
func OverrideCaptureTopic(u *Uplink, topic string) { u.topics.Capture = topic }
