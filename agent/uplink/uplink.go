package uplink

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Queue is what the uplink needs of the outbox; *outbox.Outbox implements
// it.
type Queue interface {
	Next(ctx context.Context) (outbox.Delivery, error)
	Ack(seq uint64) error
	Fail(seq uint64, reason string) error
	DeadLetter(seq uint64, reason string) error
	Rewind()
	Stats() outbox.Stats
}

// maxKnown bounds the records remembered after a resend was decided, whose
// late ack is still accepted.
const maxKnown = 4096

// flight is a record published and awaiting its Ack.
type flight struct {
	seq      uint64
	id       string
	hash     [sha256.Size]byte
	sentAt   time.Time
	deadline time.Time
}

// sent identifies a record the node may still acknowledge.
type sent struct {
	id   string
	hash [sha256.Size]byte
}

// Uplink delivers the outbox's records to the node. Create it with New and
// run it with Run.
type Uplink struct {
	o      Options
	q      Queue
	topics wire.Topics
	log    *zap.Logger
	clk    clock.Clock
	m      *metrics
	allow  map[string]bool
	in     *inbox
	slot   chan struct{}
	sid    uint64 // session number; Run's goroutine only

	mu        sync.Mutex
	inflight  map[uint64]*flight
	known     map[uint64]sent
	suspects  map[uint64]bool
	drops     map[uint64]int
	lastAck   time.Time
	connected bool
	epoch     uint64
	alarms    map[string]Alarm
	deadSeen  int
	running   bool
	lastErr   error
	acks      int64

	// onBackoff, when set (tests), is told each reconnect wait.
	onBackoff func(time.Duration)
}

// New returns an Uplink delivering q's records with opts. It does not
// connect until Run.
func New(q Queue, opts *Options) (*Uplink, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, errors.New("uplink: New needs the outbox")
	}
	u := &Uplink{
		o:        o,
		q:        q,
		topics:   wire.KioskTopics(o.Country, o.KioskID),
		log:      o.Logger.With(zap.String("kiosk", o.KioskID)),
		clk:      o.Clock,
		m:        newMetrics(),
		allow:    map[string]bool{},
		in:       newInbox(),
		slot:     make(chan struct{}, 1),
		inflight: map[uint64]*flight{},
		known:    map[uint64]sent{},
		suspects: map[uint64]bool{},
		drops:    map[uint64]int{},
		alarms:   map[string]Alarm{},
	}
	for _, k := range o.Allow {
		u.allow[k] = true
	}
	if err := u.m.register(o.Registerer); err != nil {
		return nil, err
	}
	u.deadSeen = q.Stats().DeadLetters
	return u, nil
}

// Topics returns the kiosk's topics.
func (u *Uplink) Topics() wire.Topics { return u.topics }

// Connected reports whether the uplink is connected to a broker now.
func (u *Uplink) Connected() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.connected
}

// Ready is the uplink's readiness check: nil while Run is running. Being
// offline is not a failure (the kiosk keeps capturing into the outbox); it
// shows in the kiosk_uplink_connected metric and in LastError.
func (u *Uplink) Ready() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.running {
		return errors.New("uplink not running")
	}
	return nil
}

// LastError returns why the last connection attempt or connection ended,
// nil while connected.
func (u *Uplink) LastError() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lastErr
}

// Alarms returns the alarms currently raised, sorted by kind.
func (u *Uplink) Alarms() []Alarm {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Alarm, 0, len(u.alarms))
	for _, a := range u.alarms {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// Run connects, delivers and reconnects until ctx is done, then publishes
// a retained offline status and disconnects. It returns nil after ctx is
// done and an error only when the outbox fails.
func (u *Uplink) Run(ctx context.Context) error {
	u.mu.Lock()
	u.running = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.running = false
		u.mu.Unlock()
	}()
	backoff := u.o.ReconnectMin
	for {
		progressed, err := u.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, outbox.ErrClosed) {
			return fmt.Errorf("uplink: the outbox was closed: %w", err)
		}
		u.mu.Lock()
		u.lastErr = err
		u.mu.Unlock()
		if progressed {
			backoff = u.o.ReconnectMin
		}
		wait := backoff/2 + time.Duration(u.o.Rand.Int64N(int64(backoff/2)+1))
		u.log.Warn("broker connection ended; reconnecting", zap.Error(err), zap.Duration("in", wait))
		backoff = min(backoff*2, u.o.ReconnectMax)
		if u.onBackoff != nil {
			u.onBackoff(wait)
		}
		if err := u.clk.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
}

// session runs one connection from connect to loss. progressed reports
// whether the node acknowledged a record during it.
func (u *Uplink) session(ctx context.Context) (progressed bool, err error) {
	u.sid++
	sid := u.sid
	epoch, err := u.o.ConnectEpochs.Next()
	if err != nil {
		u.log.Error("connect epoch not saved; a late will may mark this kiosk offline after a restart", zap.Error(err))
		epoch = u.o.ConnectEpochs.Value()
	}
	u.mu.Lock()
	u.epoch = epoch
	u.mu.Unlock()
	will, err := wire.Marshal(u.status(rbdesv1.StatusKind_STATUS_KIND_WILL, rbdesv1.KioskState_KIOSK_STATE_OFFLINE))
	if err != nil {
		return false, fmt.Errorf("uplink: encoding the will: %w", err)
	}
	subTok := make(chan paho.Token, 1)
	po := paho.NewClientOptions().
		SetClientID(u.o.KioskID).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetKeepAlive(u.o.KeepAlive).
		SetPingTimeout(min(u.o.KeepAlive, 10*time.Second)).
		SetConnectTimeout(u.o.ConnectTimeout).
		SetWriteTimeout(u.o.ConnectTimeout).
		SetTLSConfig(u.o.TLS).
		SetStore(paho.NewMemoryStore()).
		SetBinaryWill(u.topics.Status, will, 1, true).
		SetOnConnectHandler(func(c paho.Client) {
			subTok <- u.subscribe(c, sid)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			u.in.put(message{sid: sid, lost: err})
		})
	for _, b := range u.o.Brokers {
		po.AddBroker(b)
	}
	c := paho.NewClient(po)
	if err := u.wait(ctx, c.Connect(), u.o.ConnectTimeout+time.Second); err != nil {
		u.m.connects.WithLabelValues("failed").Inc()
		c.Disconnect(0)
		return false, fmt.Errorf("uplink: cannot connect to %v as %s (check the broker address, the certificates and the broker's ACL): %w", u.o.Brokers, u.o.KioskID, err)
	}
	u.m.connects.WithLabelValues("ok").Inc()
	if err := u.awaitSubscriptions(ctx, subTok); err != nil {
		c.Disconnect(0)
		return false, err
	}
	u.startSession(c)
	u.log.Info("connected to broker", zap.Uint64("connect_epoch", epoch))

	sctx, cancel := context.WithCancel(ctx)
	senderErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		senderErr <- u.send(sctx, c)
	}()
	tick := u.clk.NewTicker(max(u.o.AckTimeout/4, 10*time.Millisecond))
	hb := u.clk.NewTicker(u.o.Heartbeat)
	var end error
	ackedBefore := u.ackCount()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-u.in.notify:
			if err := u.drain(c, sid); err != nil {
				end = err
				break loop
			}
		case <-tick.C():
			u.checkTimeouts()
		case <-hb.C():
			u.publishStatus(c, rbdesv1.StatusKind_STATUS_KIND_HEARTBEAT, true)
		case err := <-senderErr:
			if err == nil {
				err = errors.New("uplink: sender stopped")
			}
			end = err
			break loop
		}
	}
	tick.Stop()
	hb.Stop()
	cancel()
	wg.Wait()
	progressed = u.ackCount() > ackedBefore
	if ctx.Err() != nil {
		u.shutdown(c)
		u.endSession(false)
		return progressed, nil
	}
	c.Disconnect(0)
	u.m.drops.Inc()
	u.endSession(true)
	if end == nil {
		end = errors.New("uplink: connection closed")
	}
	return progressed, end
}

// ackCount is the number of valid acks so far (for backoff decisions).
func (u *Uplink) ackCount() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.acks
}

// wait waits for a paho token, ctx or the timeout, whichever is first. A
// token that times out keeps running in paho; the caller disconnects.
func (u *Uplink) wait(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := u.clk.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return fmt.Errorf("no answer within %v", timeout)
	}
}

// subscribe makes the kiosk's subscriptions; it runs in paho's on-connect
// goroutine and does not wait.
func (u *Uplink) subscribe(c paho.Client, sid uint64) paho.Token {
	filters := map[string]byte{u.topics.Ack: 1}
	if u.o.Commands != nil {
		filters[u.topics.Cmd] = 1
	}
	return c.SubscribeMultiple(filters, func(_ paho.Client, m paho.Message) {
		u.in.put(message{sid: sid, topic: m.Topic(), payload: m.Payload()})
	})
}

// awaitSubscriptions waits for the on-connect subscriptions. A refused
// subscription raises the "subscribe" alarm but keeps the connection: the
// records stay in the outbox and the "no_ack" alarm follows.
func (u *Uplink) awaitSubscriptions(ctx context.Context, subTok <-chan paho.Token) error {
	t := u.clk.NewTimer(u.o.ConnectTimeout)
	defer t.Stop()
	var tok paho.Token
	select {
	case tok = <-subTok:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return fmt.Errorf("uplink: connected but the on-connect handler did not run within %v", u.o.ConnectTimeout)
	}
	if err := u.wait(ctx, tok, u.o.ConnectTimeout); err != nil {
		return fmt.Errorf("uplink: subscribing to %s: %w", u.topics.Ack, err)
	}
	var refused []string
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for topic, code := range st.Result() {
			if code >= 0x80 {
				refused = append(refused, topic)
			}
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		u.raise(Alarm{Kind: "subscribe", Message: fmt.Sprintf("the broker refused the subscription to %v: check its ACL for kiosk %s (acks and commands cannot arrive)", refused, u.o.KioskID)})
	} else {
		u.clear("subscribe")
	}
	return nil
}

// startSession marks the connection up, publishes the birth and hands the
// records in flight out again.
func (u *Uplink) startSession(c paho.Client) {
	u.mu.Lock()
	u.connected = true
	u.lastErr = nil
	u.mu.Unlock()
	u.m.connected.Set(1)
	u.q.Rewind()
	u.publishStatus(c, rbdesv1.StatusKind_STATUS_KIND_BIRTH, true)
}

// endSession marks the connection down. After a drop (lost) it counts the
// drop against a record that was alone in flight, moves such a record to
// dead letters after MaxDrops drops, and makes every record that was in
// flight a suspect: the next connection sends them one at a time.
func (u *Uplink) endSession(lost bool) {
	var poison []uint64
	u.mu.Lock()
	u.connected = false
	alone := len(u.inflight) == 1
	for seq, f := range u.inflight {
		if lost {
			u.suspects[seq] = true
			if alone {
				u.drops[seq]++
				if u.drops[seq] >= u.o.MaxDrops {
					poison = append(poison, seq)
				}
			}
		}
		u.rememberLocked(f)
	}
	clear(u.inflight)
	u.mu.Unlock()
	u.m.connected.Set(0)
	u.m.inflight.Set(0)
	for _, seq := range poison {
		reason := fmt.Sprintf("the broker connection dropped each of the last %d times this record was sent alone (a broker refusing it, or a record too large for the broker)", u.o.MaxDrops)
		if err := u.q.DeadLetter(seq, reason); err != nil {
			u.log.Error("moving a poison record to dead letters failed", zap.Uint64("seq", seq), zap.Error(err))
			continue
		}
		u.forget(seq)
		u.m.deadLetters.WithLabelValues("poison").Inc()
		u.raise(Alarm{Kind: "poison", Seq: seq, Message: fmt.Sprintf("record %d moved to dead letters: %s; the records behind it are delivered", seq, reason)})
		u.noteDeadLetters()
	}
	u.q.Rewind()
}

// rememberLocked keeps f's identity so that a late ack still settles it.
func (u *Uplink) rememberLocked(f *flight) {
	if len(u.known) < maxKnown {
		u.known[f.seq] = sent{id: f.id, hash: f.hash}
	}
}

// forget drops every trace of seq once it is settled.
func (u *Uplink) forget(seq uint64) {
	u.mu.Lock()
	delete(u.inflight, seq)
	delete(u.known, seq)
	delete(u.suspects, seq)
	delete(u.drops, seq)
	u.mu.Unlock()
	u.signal()
}

func (u *Uplink) signal() {
	select {
	case u.slot <- struct{}{}:
	default:
	}
}

// window is the number of records that may be in flight now: one while
// suspects from the last drop are unsettled, InFlight otherwise.
func (u *Uplink) windowLocked() int {
	if len(u.suspects) > 0 {
		return 1
	}
	return u.o.InFlight
}

// send publishes records from the outbox while the window and the resume
// rate allow, until ctx is done or a publish fails.
func (u *Uplink) send(ctx context.Context, c paho.Client) error {
	start := u.clk.Now()
	next := start
	interval := time.Duration(0)
	if u.o.ResumeRate > 0 {
		interval = time.Second / time.Duration(u.o.ResumeRate)
	}
	for {
		for {
			u.mu.Lock()
			room := len(u.inflight) < u.windowLocked()
			u.mu.Unlock()
			if room {
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-u.slot:
			}
		}
		if now := u.clk.Now(); u.o.ResumeWindow > 0 && interval > 0 && now.Sub(start) < u.o.ResumeWindow {
			if d := next.Sub(now); d > 0 {
				if err := u.clk.Sleep(ctx, d); err != nil {
					return nil
				}
			}
			next = maxTime(next, now).Add(interval)
		}
		d, err := u.q.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("uplink: taking the next record from the outbox: %w", err)
		}
		id, err := recordID(d.Payload)
		if err != nil {
			u.unreadable(d.Seq, err)
			continue
		}
		now := u.clk.Now()
		f := &flight{seq: d.Seq, id: id, hash: sha256.Sum256(d.Payload), sentAt: now, deadline: now.Add(u.o.AckTimeout)}
		u.mu.Lock()
		_, again := u.known[d.Seq]
		delete(u.known, d.Seq)
		u.inflight[d.Seq] = f
		n := len(u.inflight)
		u.mu.Unlock()
		u.m.inflight.Set(float64(n))
		tok := c.Publish(u.topics.Capture, 1, false, d.Payload)
		u.m.publishes.Inc()
		if again || d.Attempt > 1 {
			u.m.resends.Inc()
		}
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("uplink: publishing record %d: %w", d.Seq, err)
			}
		default:
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// unreadable moves a payload that is not a sealed record to dead letters.
func (u *Uplink) unreadable(seq uint64, cause error) {
	reason := "the outbox holds a payload that is not a sealed record: " + cause.Error()
	if err := u.q.DeadLetter(seq, reason); err != nil {
		u.log.Error("moving an unreadable record to dead letters failed", zap.Uint64("seq", seq), zap.Error(err))
		return
	}
	u.m.deadLetters.WithLabelValues("unreadable").Inc()
	u.raise(Alarm{Kind: "dead_letter", Seq: seq, Message: fmt.Sprintf("record %d moved to dead letters: %s", seq, reason)})
	u.noteDeadLetters()
}

// checkTimeouts handles records whose ack is overdue (see the package
// comment: failed record versus silent node).
func (u *Uplink) checkTimeouts() {
	now := u.clk.Now()
	var failed []uint64
	silent := 0
	u.mu.Lock()
	for seq, f := range u.inflight {
		if now.Before(f.deadline) {
			continue
		}
		if u.lastAck.After(f.sentAt) {
			failed = append(failed, seq)
			u.rememberLocked(f)
			delete(u.inflight, seq)
			delete(u.drops, seq)
			delete(u.suspects, seq)
		} else {
			silent++
		}
	}
	if silent > 0 {
		for _, f := range u.inflight {
			u.rememberLocked(f)
		}
		clear(u.inflight)
	}
	u.mu.Unlock()
	sort.Slice(failed, func(i, j int) bool { return failed[i] < failed[j] })
	for _, seq := range failed {
		u.m.timeouts.WithLabelValues("record").Inc()
		before := u.q.Stats().DeadLetters
		if err := u.q.Fail(seq, fmt.Sprintf("no ack from the node within %v while it acknowledged later records", u.o.AckTimeout)); err != nil {
			u.log.Error("recording a failed delivery failed", zap.Uint64("seq", seq), zap.Error(err))
		}
		if u.q.Stats().DeadLetters > before {
			u.raise(Alarm{Kind: "dead_letter", Seq: seq, Message: fmt.Sprintf("record %d moved to dead letters after repeated failed deliveries (the node never acknowledged it)", seq)})
			u.noteDeadLetters()
		}
	}
	if silent > 0 {
		u.m.timeouts.WithLabelValues("silent").Add(float64(silent))
		u.q.Rewind()
		u.raise(Alarm{Kind: "no_ack", Message: fmt.Sprintf("the node acknowledged nothing within %v; records stay in the outbox and are sent again (node down, or the broker dropping this kiosk's publishes: check its ACL)", u.o.AckTimeout)})
	}
	if len(failed) > 0 || silent > 0 {
		u.signal()
	}
}

// noteDeadLetters records the outbox's dead-letter count for the alarms.
func (u *Uplink) noteDeadLetters() {
	n := u.q.Stats().DeadLetters
	u.mu.Lock()
	u.deadSeen = n
	u.mu.Unlock()
}

// drain handles every queued message; it returns the error that ended
// session sid when its connection was lost.
func (u *Uplink) drain(c paho.Client, sid uint64) error {
	var lost error
	for _, m := range u.in.take() {
		switch {
		case m.lost != nil:
			if m.sid == sid && lost == nil {
				lost = fmt.Errorf("uplink: connection lost: %w", m.lost)
			}
		case m.topic == u.topics.Ack:
			u.handleAck(m.payload)
		case m.topic == u.topics.Cmd:
			u.handleCommand(c, m.payload)
		default:
			u.log.Warn("message on an unexpected topic ignored", zap.String("topic", m.topic))
		}
	}
	return lost
}

// raise records and reports an alarm.
func (u *Uplink) raise(a Alarm) {
	a.Raised = true
	u.mu.Lock()
	prev, had := u.alarms[a.Kind]
	u.alarms[a.Kind] = a
	u.mu.Unlock()
	if had && prev.Message == a.Message {
		return
	}
	u.log.Error("alarm", zap.String("alarm", a.Kind), zap.Uint64("seq", a.Seq), zap.String("message", a.Message))
	if u.o.OnAlarm != nil {
		u.o.OnAlarm(a)
	}
}

// clear clears an alarm of kind, if raised.
func (u *Uplink) clear(kind string) {
	u.mu.Lock()
	a, had := u.alarms[kind]
	delete(u.alarms, kind)
	u.mu.Unlock()
	if !had {
		return
	}
	a.Raised = false
	u.log.Info("alarm cleared", zap.String("alarm", kind))
	if u.o.OnAlarm != nil {
		u.o.OnAlarm(a)
	}
}
