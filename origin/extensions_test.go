package origin

// Extension types the tests build or look for (RFC 8446 §4.2, RFC 6066).
const (
	extServerName      uint16 = 0
	extSupportedGroups uint16 = 10
	extPadding         uint16 = 21 // RFC 7685
	extSessionTicket   uint16 = 35 // RFC 5077
	extPreSharedKey    uint16 = 41
	extKeyShare        uint16 = 51
)

// putU16 and u16List build extension data for tlstest.ClientHello.Set.
func putU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func u16List(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = putU16(b, v)
	}
	return append(putU16(nil, uint16(len(b))), b...)
}
