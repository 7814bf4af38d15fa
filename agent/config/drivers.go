package config

// DeviceRole is what a device does in the kiosk.
type DeviceRole string

// Device roles.
const (
	RoleFingerprint  DeviceRole = "fingerprint"
	RoleCamera       DeviceRole = "camera"
	RolePresence     DeviceRole = "presence"
	RoleStatusLED    DeviceRole = "status-led"
	RoleIllumination DeviceRole = "illumination"
	RoleTamper       DeviceRole = "tamper"
)

// Transport is how a driver reaches its device.
type Transport int

// Transports.
const (
	TransportNone   Transport = iota // simulated or GPIO only
	TransportUART                    // Port is a serial device, Baud applies
	TransportSPI                     // Port is an SPI port
	TransportSPII2C                  // Port is an SPI port and Bus an I2C bus
	TransportVideo                   // Port is a V4L2 device
)

// DriverSpec describes what a driver needs from its Device entry.
type DriverSpec struct {
	Role      DeviceRole
	Transport Transport
	// Simulated drivers need no hardware.
	Simulated bool
	// RequiredPins must be present in Pins; OptionalPins may be.
	RequiredPins []string
	OptionalPins []string
	// AnyOfPins: at least one of these must be present.
	AnyOfPins []string
	// Options are the option keys the driver understands.
	Options []string
	// DefaultBaud applies to UART drivers when Baud is 0.
	DefaultBaud int
}

var uartOptions = []string{"link_baud", "address", "password", "packet_size", "security_level", "model", "timeout"}

// Drivers lists every driver name a Device may use. The simulated drivers
// take the same options as the real ones plus what their simulator needs.
var Drivers = map[string]DriverSpec{
	"r30x":              {Role: RoleFingerprint, Transport: TransportUART, DefaultBaud: 57600, OptionalPins: []string{"touch"}, Options: uartOptions},
	"gt521":             {Role: RoleFingerprint, Transport: TransportUART, DefaultBaud: 9600, Options: []string{"link_baud", "timeout"}},
	"fpc1020":           {Role: RoleFingerprint, Transport: TransportSPI, RequiredPins: []string{"reset", "irq"}, Options: []string{"chunk", "timeout"}},
	"arducam":           {Role: RoleCamera, Transport: TransportSPII2C, Options: []string{"size", "chunk", "timeout"}},
	"uvc":               {Role: RoleCamera, Transport: TransportVideo, Options: []string{"width", "height", "format", "timeout"}},
	"gpio-presence":     {Role: RolePresence, RequiredPins: []string{"in"}, Options: []string{"debounce", "active"}},
	"gpio-led":          {Role: RoleStatusLED, AnyOfPins: []string{"red", "green", "blue"}, Options: []string{"active"}},
	"gpio-illumination": {Role: RoleIllumination, RequiredPins: []string{"out"}, Options: []string{"active"}},
	"gpio-tamper":       {Role: RoleTamper, RequiredPins: []string{"in"}, Options: []string{"debounce", "active"}},

	"sim-r30x":         {Role: RoleFingerprint, Transport: TransportNone, Simulated: true, DefaultBaud: 57600, Options: append([]string{"seed", "faults", "fingers"}, uartOptions...)},
	"sim-gt521":        {Role: RoleFingerprint, Transport: TransportNone, Simulated: true, DefaultBaud: 9600, Options: []string{"seed", "faults", "fingers", "link_baud", "timeout"}},
	"sim-fpc1020":      {Role: RoleFingerprint, Transport: TransportNone, Simulated: true, Options: []string{"seed", "faults", "fingers", "chunk", "timeout"}},
	"sim-arducam":      {Role: RoleCamera, Transport: TransportNone, Simulated: true, Options: []string{"image", "faults", "size", "chunk", "timeout"}},
	"sim-uvc":          {Role: RoleCamera, Transport: TransportNone, Simulated: true, Options: []string{"image", "faults", "width", "height", "format", "timeout"}},
	"sim-presence":     {Role: RolePresence, Transport: TransportNone, Simulated: true, Options: []string{"interval", "debounce"}},
	"sim-led":          {Role: RoleStatusLED, Transport: TransportNone, Simulated: true},
	"sim-illumination": {Role: RoleIllumination, Transport: TransportNone, Simulated: true},
	"sim-tamper":       {Role: RoleTamper, Transport: TransportNone, Simulated: true},
}
