package tlsmitm

import "strconv"

// Alert is a TLS alert description (RFC 8446 §6).
type Alert uint8

// The alerts this stack sends or understands. RFC 8446 §6.2 says which error
// takes which alert; each refusal in this package cites that choice.
const (
	AlertCloseNotify           Alert = 0
	AlertUnexpectedMessage     Alert = 10
	AlertBadRecordMAC          Alert = 20
	AlertRecordOverflow        Alert = 22
	AlertHandshakeFailure      Alert = 40
	AlertBadCertificate        Alert = 42
	AlertCertificateUnknown    Alert = 46
	AlertIllegalParameter      Alert = 47
	AlertDecodeError           Alert = 50
	AlertDecryptError          Alert = 51
	AlertProtocolVersion       Alert = 70
	AlertInsufficientSecurity  Alert = 71
	AlertInternalError         Alert = 80
	AlertInappropriateFallback Alert = 86
	AlertUserCanceled          Alert = 90
	AlertMissingExtension      Alert = 109
	AlertUnsupportedExtension  Alert = 110
	AlertUnrecognizedName      Alert = 112
	AlertCertificateRequired   Alert = 116
	AlertNoApplicationProtocol Alert = 120
)

var alertNames = map[Alert]string{
	AlertCloseNotify:           "close_notify",
	AlertUnexpectedMessage:     "unexpected_message",
	AlertBadRecordMAC:          "bad_record_mac",
	AlertRecordOverflow:        "record_overflow",
	AlertHandshakeFailure:      "handshake_failure",
	AlertBadCertificate:        "bad_certificate",
	AlertCertificateUnknown:    "certificate_unknown",
	AlertIllegalParameter:      "illegal_parameter",
	AlertDecodeError:           "decode_error",
	AlertDecryptError:          "decrypt_error",
	AlertProtocolVersion:       "protocol_version",
	AlertInsufficientSecurity:  "insufficient_security",
	AlertInternalError:         "internal_error",
	AlertInappropriateFallback: "inappropriate_fallback",
	AlertUserCanceled:          "user_canceled",
	AlertMissingExtension:      "missing_extension",
	AlertUnsupportedExtension:  "unsupported_extension",
	AlertUnrecognizedName:      "unrecognized_name",
	AlertCertificateRequired:   "certificate_required",
	AlertNoApplicationProtocol: "no_application_protocol",
}

func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// AlertError is a fatal error of the connection together with the alert
// this side sent for it.
type AlertError struct {
	Alert Alert
	Msg   string
}

func (e *AlertError) Error() string { return "tls: " + e.Msg + " (sent " + e.Alert.String() + ")" }

// PeerAlertError reports a fatal alert the peer sent.
type PeerAlertError struct {
	Alert Alert
}

func (e *PeerAlertError) Error() string { return "tls: peer sent alert " + e.Alert.String() }

func alertf(a Alert, msg string) *AlertError { return &AlertError{Alert: a, Msg: msg} }
