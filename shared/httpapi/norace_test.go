//go:build !race

package httpapi_test

// raceEnabled reports a build with the race detector, under which the
// slowest end-to-end tests are left to make bench.
const raceEnabled = false
