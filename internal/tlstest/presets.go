package tlstest

import utls "github.com/refraction-networking/utls"

// Preset is one of uTLS's browser fingerprints, for tests that play a
// browser's ClientHello against the edge.
type Preset struct {
	Name string
	ID   utls.ClientHelloID
}

// BrowserPresets are the browser fingerprints the interop tests offer:
// each sends GREASE, ECH GREASE and its own extension order.
var BrowserPresets = []Preset{
	{"Chrome_Auto", utls.HelloChrome_Auto},
	{"Firefox_Auto", utls.HelloFirefox_Auto},
	{"Safari_Auto", utls.HelloSafari_Auto},
	{"IOS_Auto", utls.HelloIOS_Auto},
	{"Edge_Auto", utls.HelloEdge_Auto},
}
