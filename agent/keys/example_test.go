package keys_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

// A technician provisions a kiosk (kioskctl provision does this), and later
// rotates its device key.
func ExampleProvision() {
	dir, _ := os.MkdirTemp("", "kiosk-keys")
	defer os.RemoveAll(dir)

	p, err := keys.Provision(dir, "kiosk-001")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.DeviceKeyID, filepath.Base(p.DeviceKeyFile), filepath.Base(p.TLSKeyFile), filepath.Base(p.CSRFile))

	r, err := keys.Rotate(dir, "kiosk-001", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.DeviceKeyID, "replaces", r.Previous)
	// Output:
	// device-1 device-1.key tls-1.key tls-1.csr
	// device-2 replaces device-1
}
