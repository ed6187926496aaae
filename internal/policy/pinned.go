package policy

// pinned lists names whose clients pin their certificates (or the roots
// they chain to), so inspecting them only breaks them: the app refuses the
// minted leaf, whatever root the device trusts. Each group says whose
// guidance it follows. The list is kept short on purpose: every entry is
// traffic the edge cannot see. Categories that are a choice, not a
// necessity (banking, health), belong in an organisation's own rules.
var pinned = []string{
	// Apple: "Use Apple products on enterprise networks" (Apple Support
	// 101555) says Apple services fail connections that go through HTTPS
	// interception, and names these domains (push, iCloud, App Store,
	// software update, device enrolment).
	".apple.com",
	".icloud.com",
	".icloud-content.com",
	".apple-cloudkit.com",
	".mzstatic.com",
	".cdn-apple.com",
	// Microsoft: Windows Update pins the certificates of its update
	// service and Delivery Optimization; Microsoft's update network
	// guidance excludes these from TLS inspection.
	".windowsupdate.com",
	".update.microsoft.com",
	".delivery.mp.microsoft.com",
	// Google: Android's Play services pin Google's roots; Android
	// Enterprise network requirements exclude these from inspection.
	"play.google.com",
	".play.googleapis.com",
	"android.clients.google.com",
	"mtalk.google.com",
	// Dropbox: the desktop app pins Dropbox's certificates and does not
	// work behind SSL inspection.
	".dropbox.com",
	".dropboxapi.com",
}

// Pinned returns the built-in bypass list as host patterns, in the order
// they are tried.
func Pinned() []string {
	return append([]string(nil), pinned...)
}
