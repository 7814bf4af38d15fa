package fvc_test

import (
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/fvc"
)

// The error rates of a handful of scores; a real evaluation gets them from
// Evaluate on an FVC-layout folder.
func ExampleComputeRates() {
	genuine := []float64{0.30, 0.60, 0.70, 0.80, 0.90}
	impostor := []float64{0.10, 0.40, 0.50, 0.65}
	r := fvc.ComputeRates(genuine, impostor)
	fmt.Printf("EER %.1f%% at threshold %.2f\n", 100*r.EER, r.EERThreshold)
	fmt.Printf("FNMR %.0f%% with no false match (threshold %.2f)\n", 100*r.FNMRAt01, r.ThresholdAt01)
	// Output:
	// EER 22.5% at threshold 0.60
	// FNMR 40% with no false match (threshold 0.70)
}
