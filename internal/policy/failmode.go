package policy

import "strconv"

// FailMode is what an organisation wants when the edge holds no key for it
// (the CA is unreachable, or it refused the key): the edge never decrypts
// then, and either refuses the organisation's connections or passes them
// on untouched.
type FailMode uint8

// Fail modes.
const (
	FailBlock  FailMode = iota // refuse: the safe default
	FailTunnel                 // relay the bytes untouched, uninspected
)

var failModeNames = [...]string{FailBlock: "block", FailTunnel: "tunnel"}

func (m FailMode) String() string {
	if int(m) < len(failModeNames) {
		return failModeNames[m]
	}
	return "failmode(" + strconv.Itoa(int(m)) + ")"
}

// ParseFailMode reads a fail mode's name: block or tunnel.
func ParseFailMode(s string) (FailMode, bool) {
	for m, name := range failModeNames {
		if s == name {
			return FailMode(m), true
		}
	}
	return 0, false
}
